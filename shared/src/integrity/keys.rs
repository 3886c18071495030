//! CloudTrail's public keys: read from files (DER or PEM), matched by fingerprint, and the
//! RSA check of a digest's signature.
//!
//! `cloudtrail:ListPublicKeys` returns each key as DER PKCS#1 `RSAPublicKey` with a fingerprint,
//! the hex MD5 of those DER bytes
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_ListPublicKeys.html>).
//! A key file may hold that DER, or PEM `RSA PUBLIC KEY` (the same bytes) or `PUBLIC KEY`
//! (X.509 SubjectPublicKeyInfo around them): the fingerprint is always the PKCS#1 bytes' MD5.

use std::collections::HashMap;
use std::path::Path;

use md5::{Digest as _, Md5};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use spki::der::Decode;

use crate::ports::PortError;

/// The OID of `rsaEncryption` (RFC 8017, appendix A.1).
const RSA_ENCRYPTION: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// An RSA public key that signs digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Hex MD5 of the PKCS#1 DER bytes, as digests name it.
    pub fingerprint: String,
    pkcs1: Vec<u8>,
}

impl PublicKey {
    /// A key from its DER PKCS#1 `RSAPublicKey` bytes, as ListPublicKeys returns them.
    pub fn from_pkcs1_der(der: &[u8]) -> Self {
        Self {
            fingerprint: hex::encode(Md5::digest(der)),
            pkcs1: der.to_vec(),
        }
    }

    /// A key from a file's DER PKCS#1 bytes, checked to be an `RSAPublicKey` (RFC 8017,
    /// appendix A.1.1: a sequence of the modulus and the exponent) of at least 2,048 bits, the
    /// least a digest signature may be verified with: any other file is no key.
    fn from_checked_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        use spki::der::Reader as _;
        use spki::der::asn1::UintRef;
        let not_a_key = |e: spki::der::Error| {
            format!("not an RSA public key (DER or PEM, PKCS#1 or SubjectPublicKeyInfo): {e}")
        };
        let mut reader = spki::der::SliceReader::new(der).map_err(not_a_key)?;
        let modulus = reader
            .sequence(|seq| {
                let modulus: UintRef<'_> = seq.decode()?;
                let _exponent: UintRef<'_> = seq.decode()?;
                Ok(modulus)
            })
            .and_then(|modulus| reader.finish(modulus))
            .map_err(not_a_key)?;
        let bits = modulus.as_bytes().len() * 8;
        if bits < 2048 {
            return Err(format!(
                "an RSA key of {bits} bits: CloudTrail signs with 2048 bits or more"
            ));
        }
        Ok(Self::from_pkcs1_der(der))
    }

    /// A key from the bytes of a key file: PEM (`RSA PUBLIC KEY` or `PUBLIC KEY`) or DER
    /// (PKCS#1 or SubjectPublicKeyInfo).
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            let pem = pem::parse(bytes).map_err(|e| format!("not a PEM key: {e}"))?;
            return match pem.tag() {
                "RSA PUBLIC KEY" => Self::from_checked_pkcs1_der(pem.contents()),
                "PUBLIC KEY" => Self::from_spki_der(pem.contents()),
                other => Err(format!(
                    "a PEM {other:?}, not an RSA PUBLIC KEY or a PUBLIC KEY"
                )),
            };
        }
        // SubjectPublicKeyInfo first; failing that, PKCS#1, whose error is the one to show.
        Self::from_spki_der(bytes).or_else(|_| Self::from_checked_pkcs1_der(bytes))
    }

    fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("not a SubjectPublicKeyInfo: {e}"))?;
        if info.algorithm.oid != RSA_ENCRYPTION {
            return Err(format!("not an RSA key (algorithm {})", info.algorithm.oid));
        }
        let bits = info
            .subject_public_key
            .as_bytes()
            .ok_or("the key's bit string is not whole bytes")?;
        Self::from_checked_pkcs1_der(bits)
    }

    /// Whether `signature` is this key's RSASSA-PKCS1-v1_5 SHA-256 signature of `message`
    /// (`SHA256withRSA`).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.pkcs1)
            .verify(message, signature)
            .is_ok()
    }

    /// The DER PKCS#1 bytes.
    pub fn pkcs1_der(&self) -> &[u8] {
        &self.pkcs1
    }
}

/// Where public keys come from: CloudTrail in the digest's region, or files.
pub trait KeyStore: Sync {
    /// The key of `fingerprint` that signed a digest of `region` ending at `at_s` (seconds since
    /// the Unix epoch); `None` when there is no such key.
    fn find(
        &self,
        region: &str,
        fingerprint: &str,
        at_s: i64,
    ) -> Result<Option<PublicKey>, PortError>;
}

/// Keys held in memory, by fingerprint, whatever the region.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: HashMap<String, PublicKey>,
}

impl KeyRing {
    /// Adds `key`.
    pub fn add(&mut self, key: PublicKey) {
        self.keys.insert(key.fingerprint.clone(), key);
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys of a key file, or of every file of a folder (not recursing), naming the file
    /// at fault.
    pub fn load(path: &Path) -> Result<Self, String> {
        let files = if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            files.retain(|p| p.is_file());
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        let read = files.into_iter().map(|file| {
            let bytes = std::fs::read(&file).map_err(|e| e.to_string());
            (file.display().to_string(), bytes)
        });
        Self::from_files(read, &path.display().to_string())
    }

    /// The keys of named files (each read or not), naming the file at fault; `place` names
    /// where they are, for an error when there is none.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, Result<Vec<u8>, String>)>,
        place: &str,
    ) -> Result<Self, String> {
        let mut ring = Self::default();
        for (name, bytes) in files {
            let key = bytes
                .and_then(|b| PublicKey::parse(&b))
                .map_err(|e| format!("{name}: {e}"))?;
            ring.add(key);
        }
        if ring.is_empty() {
            return Err(format!("{place}: no key file"));
        }
        Ok(ring)
    }
}

impl KeyStore for KeyRing {
    fn find(&self, _: &str, fingerprint: &str, _: i64) -> Result<Option<PublicKey>, PortError> {
        Ok(self.keys.get(&fingerprint.to_ascii_lowercase()).cloned())
    }
}

/// Signs digests as CloudTrail does, for the demo's trail and the tests: never used to check.
#[cfg(any(test, feature = "demo"))]
pub(crate) mod signer {
    use ring::rand::SystemRandom;
    use ring::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

    use super::PublicKey;

    /// A key pair from PKCS#8 DER.
    #[derive(Debug)]
    pub(crate) struct Signer(RsaKeyPair);

    impl Signer {
        pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
            RsaKeyPair::from_pkcs8(der)
                .map(Self)
                .map_err(|e| format!("not an RSA PKCS#8 key: {e}"))
        }

        pub(crate) fn public_key(&self) -> PublicKey {
            PublicKey::from_pkcs1_der(self.0.public_key().as_ref())
        }

        /// The hex `SHA256withRSA` signature of `message`.
        pub(crate) fn sign_hex(&self, message: &[u8]) -> Result<String, String> {
            let mut signature = vec![0; self.0.public().modulus_len()];
            self.0
                .sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|e| format!("signing failed: {e}"))?;
            Ok(hex::encode(signature))
        }
    }
}
