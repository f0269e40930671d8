//! A service's identity in its certificate: a SPIFFE ID (`spiffe://latch/catalog`) in the
//! certificate's URI subject alternative names, the form cert-manager (`uris:`), SPIRE and
//! service meshes issue.

use std::fmt;

/// The trust domain Latch's service identities are in unless configured otherwise.
pub const DEFAULT_TRUST_DOMAIN: &str = "latch";

/// `spiffe://<trust domain>/<name>`: who a certificate says its holder is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceIdentity {
    pub trust_domain: String,
    pub name: String,
}

impl ServiceIdentity {
    pub fn new(trust_domain: &str, name: &str) -> Self {
        Self {
            trust_domain: trust_domain.to_string(),
            name: name.to_string(),
        }
    }

    /// The URI to put in a certificate's subject alternative names.
    pub fn uri(&self) -> String {
        format!("spiffe://{}/{}", self.trust_domain, self.name)
    }

    /// Parses `spiffe://<domain>/<name>`; `None` for any other URI.
    pub fn parse(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("spiffe://")?;
        let (domain, name) = rest.split_once('/')?;
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 255
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        (valid(domain) && valid(name)).then(|| Self::new(domain, name))
    }
}

impl fmt::Display for ServiceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spiffe://{}/{}", self.trust_domain, self.name)
    }
}

/// The identity in a (verified) certificate, in `trust_domain`: its one SPIFFE URI there.
/// `None` when it has none, or more than one (an ambiguous certificate names nobody).
pub fn identity_of(certificate_der: &[u8], trust_domain: &str) -> Option<ServiceIdentity> {
    let (_, certificate) = x509_parser::parse_x509_certificate(certificate_der).ok()?;
    let names = certificate.subject_alternative_name().ok()??;
    let mut found = names.value.general_names.iter().filter_map(|name| match name {
        x509_parser::extensions::GeneralName::URI(uri) => {
            ServiceIdentity::parse(uri).filter(|id| id.trust_domain == trust_domain)
        }
        _ => None,
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_spiffe_uris_of_the_form_name_an_identity() {
        assert_eq!(
            ServiceIdentity::parse("spiffe://latch/catalog"),
            Some(ServiceIdentity::new("latch", "catalog"))
        );
        assert_eq!(ServiceIdentity::parse("https://latch/catalog"), None);
        assert_eq!(ServiceIdentity::parse("spiffe://latch/"), None);
        assert_eq!(ServiceIdentity::parse("spiffe://latch/a/b"), None);
        assert_eq!(ServiceIdentity::parse("spiffe:///catalog"), None);
    }

    #[test]
    fn a_certificate_names_its_service_in_the_trust_domain() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::URI(
            rcgen::string::Ia5String::try_from("spiffe://latch/request").unwrap(),
        ));
        let der = params.self_signed(&key).unwrap().der().to_vec();
        assert_eq!(
            identity_of(&der, "latch"),
            Some(ServiceIdentity::new("latch", "request"))
        );
        assert_eq!(
            identity_of(&der, "other"),
            None,
            "another trust domain names nobody here"
        );

        params.subject_alt_names.push(rcgen::SanType::URI(
            rcgen::string::Ia5String::try_from("spiffe://latch/catalog").unwrap(),
        ));
        let two = params.self_signed(&key).unwrap().der().to_vec();
        assert_eq!(identity_of(&two, "latch"), None, "two identities are ambiguous");
    }
}
