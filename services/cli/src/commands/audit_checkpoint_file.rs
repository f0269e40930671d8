//! Reads a checkpoint an operator kept: the last line of a `latch audit export` (JSON lines or
//! CSV), or that line's `checkpoint` object alone.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use latch_proto::request::v1 as pb;

use crate::error::CliError;

/// Only the end of an export is read: the checkpoint is its last line.
const TAIL_BYTES: u64 = 64 * 1024;

pub fn read(path: &Path) -> Result<pb::AuditCheckpoint, CliError> {
    let io = |source| CliError::io(format!("cannot read {}", path.display()), source);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let length = file.metadata().map_err(io)?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(TAIL_BYTES)))
        .map_err(io)?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(io)?;
    parse(&String::from_utf8_lossy(&tail)).map_err(|reason| CliError::Usage(format!("{}: {reason}", path.display())))
}

/// The checkpoint in the last non-empty line of `text`.
pub fn parse(text: &str) -> Result<pb::AuditCheckpoint, String> {
    let missing = || "no checkpoint found (expected the last line of a `latch audit export`)".to_string();
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .ok_or_else(missing)?;
    if line.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|_| missing())?;
        let checkpoint = value.get("checkpoint").unwrap_or(&value);
        let text = |name: &str| {
            checkpoint
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("the checkpoint has no {name}"))
        };
        return Ok(pb::AuditCheckpoint {
            sequence: checkpoint
                .get("sequence")
                .and_then(|v| v.as_i64())
                .ok_or_else(|| "the checkpoint has no sequence".to_string())?,
            head_hash: text("head_hash")?,
            time: text("time")?,
            key_id: text("key_id")?,
            signature: text("signature")?,
        });
    }
    // The CSV record: sequence, id, time, actor, action, subject (key id), …, detail
    // (signature), previous_hash, hash (head hash).
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() != 15 || fields[4] != "audit.checkpoint" {
        return Err(missing());
    }
    Ok(pb::AuditCheckpoint {
        sequence: fields[0]
            .parse()
            .map_err(|_| "the checkpoint's sequence is not a number".to_string())?,
        head_hash: fields[14].into(),
        time: fields[2].into(),
        key_id: fields[5].into(),
        signature: fields[12].into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_of_either_export_format_or_a_bare_checkpoint_is_read() {
        let jsonl = "{\"sequence\":1}\n{\"checkpoint\":{\"sequence\":9,\"head_hash\":\"ab\",\"time\":\"2026-01-01T00:00:00.000000Z\",\"key_id\":\"k\",\"signature\":\"s\",\"public_key\":\"p\"}}\n";
        let from_jsonl = parse(jsonl).unwrap();
        assert_eq!((from_jsonl.sequence, from_jsonl.head_hash.as_str()), (9, "ab"));
        let bare = "{\"sequence\":9,\"head_hash\":\"ab\",\"time\":\"2026-01-01T00:00:00.000000Z\",\"key_id\":\"k\",\"signature\":\"s\"}";
        assert_eq!(parse(bare).unwrap(), from_jsonl);
        let csv = "sequence,id,time,actor,action,subject,source,grantee,flow,resources,before,after,detail,previous_hash,hash\n\
                   9,,2026-01-01T00:00:00.000000Z,latch,audit.checkpoint,k,,,,,,,s,,ab\n";
        assert_eq!(parse(csv).unwrap(), from_jsonl);
        assert!(parse("{\"sequence\":3,\"action\":\"request.approved\"}").is_err());
        assert!(parse("").unwrap_err().contains("no checkpoint"));
    }
}
