//! Authorities and certificates made on the spot, for tests (feature `testing`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use crate::{DEFAULT_TRUST_DOMAIN, ServiceIdentity, TlsFiles};

/// A certificate authority of its own.
pub struct TestPki {
    authority: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// A leaf certificate and its key, PEM.
#[derive(Clone)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

/// How long a leaf is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From 1975 to 4096 (rcgen's defaults).
    Current,
    /// Ended in 2021.
    Expired,
}

impl TestPki {
    pub fn new(name: &str) -> Self {
        let key = rcgen::KeyPair::generate().expect("authority key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("authority params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let authority = rcgen::CertifiedIssuer::self_signed(params, key).expect("authority certificate");
        Self { authority }
    }

    pub fn ca_pem(&self) -> String {
        self.authority.pem()
    }

    /// A certificate for `localhost` and 127.0.0.1, naming `service` (in the default trust
    /// domain) when given.
    pub fn leaf(&self, service: Option<&str>, validity: Validity) -> Leaf {
        self.make_leaf(service, validity, true)
    }

    /// Like [`TestPki::leaf`], for the name `localhost` only (not 127.0.0.1).
    pub fn leaf_for_localhost_only(&self, service: Option<&str>) -> Leaf {
        self.make_leaf(service, Validity::Current, false)
    }

    fn make_leaf(&self, service: Option<&str>, validity: Validity, with_ip: bool) -> Leaf {
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
        if with_ip {
            params
                .subject_alt_names
                .push(rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        if let Some(service) = service {
            let uri = ServiceIdentity::new(DEFAULT_TRUST_DOMAIN, service).uri();
            params.subject_alt_names.push(rcgen::SanType::URI(
                rcgen::string::Ia5String::try_from(uri).expect("an ASCII URI"),
            ));
            params.distinguished_name.push(rcgen::DnType::CommonName, service);
        }
        if validity == Validity::Expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let certificate = params.signed_by(&key, &self.authority).expect("leaf certificate");
        Leaf {
            cert_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes `leaf` and this authority as `<name>.crt`, `<name>.key` and `<name>-ca.crt` in
    /// `dir` (replacing earlier files of that name, as a rotation does).
    pub fn write(&self, dir: &Path, name: &str, leaf: &Leaf) -> TlsFiles {
        let files = TlsFiles {
            cert_file: dir.join(format!("{name}.crt")),
            key_file: dir.join(format!("{name}.key")),
            ca_file: dir.join(format!("{name}-ca.crt")),
        };
        write_atomically(&files.cert_file, &leaf.cert_pem);
        write_atomically(&files.key_file, &leaf.key_pem);
        write_atomically(&files.ca_file, &self.ca_pem());
        files
    }
}

/// Writes through a temporary file and a rename, as a rotation should.
pub fn write_atomically(path: &Path, text: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).expect("write a certificate file");
    std::fs::rename(&temporary, path).expect("move a certificate file into place");
}
