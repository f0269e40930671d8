//! `-f FILE|-`: a flow document read from a file, or from stdin when the name is `-`.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read};
use std::path::PathBuf;

use crate::error::CliError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentSource {
    Stdin,
    File(PathBuf),
}

impl From<&OsStr> for DocumentSource {
    fn from(name: &OsStr) -> Self {
        if name == "-" {
            Self::Stdin
        } else {
            Self::File(PathBuf::from(name))
        }
    }
}

impl fmt::Display for DocumentSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdin => f.write_str("stdin"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl DocumentSource {
    /// The whole document; an empty (or blank) one is refused before the server is called.
    pub fn read(&self) -> Result<String, CliError> {
        self.read_with(io::stdin().lock())
    }

    fn read_with(&self, stdin: impl Read) -> Result<String, CliError> {
        let text = match self {
            Self::Stdin => {
                read_all(stdin).map_err(|error| CliError::io("cannot read the document from stdin", error))?
            }
            Self::File(path) => std::fs::read_to_string(path)
                .map_err(|error| CliError::io(format!("cannot read {}", path.display()), error))?,
        };
        if text.trim().is_empty() {
            return Err(CliError::Usage(format!("the document from {self} is empty")));
        }
        Ok(text)
    }
}

fn read_all(mut reader: impl Read) -> io::Result<String> {
    let mut text = String::new();
    reader.read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const DOC: &str = "name: prod orders read\nkind: self_serve\n";

    #[test]
    fn a_dash_means_stdin() {
        assert_eq!(DocumentSource::from(OsStr::new("-")), DocumentSource::Stdin);
        assert_eq!(
            DocumentSource::from(OsStr::new("flows.yaml")),
            DocumentSource::File(PathBuf::from("flows.yaml"))
        );
        let text = DocumentSource::Stdin.read_with(DOC.as_bytes()).unwrap();
        assert_eq!(text, DOC);
    }

    #[test]
    fn reads_a_file_whole() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(DOC.as_bytes()).unwrap();
        let source = DocumentSource::File(file.path().to_path_buf());
        // Stdin is not touched for a file.
        assert_eq!(source.read_with(&b"ignored"[..]).unwrap(), DOC);
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let source = DocumentSource::File(PathBuf::from("/nonexistent/flows.yaml"));
        let error = source.read_with(&b""[..]).unwrap_err();
        assert!(matches!(error, CliError::Io { .. }), "{error:?}");
        assert!(error.to_string().contains("/nonexistent/flows.yaml"), "{error}");
    }

    #[test]
    fn an_empty_document_is_refused() {
        let error = DocumentSource::Stdin.read_with(&b" \n"[..]).unwrap_err();
        assert!(matches!(error, CliError::Usage(_)), "{error:?}");
        assert_eq!(error.to_string(), "the document from stdin is empty");
    }
}
