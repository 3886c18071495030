//! CloudTrail's public keys, from `ListPublicKeys` in each digest's region, cached per
//! instance.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::Region;
use aws_sdk_cloudtrail::primitives::DateTime;
use tokio::runtime::Handle;

use super::classify;
use crate::integrity::keys::{KeyRing, KeyStore, PublicKey};
use crate::ports::PortError;

/// Keys are asked for over this window before a digest's end: a key's validity overlaps it.
const KEY_WINDOW_S: i64 = 3600;

/// Public keys from CloudTrail, one client per region, each key asked for once.
#[derive(Debug)]
pub struct CloudTrailKeys {
    sdk: aws_config::SdkConfig,
    handle: Handle,
    clients: Mutex<HashMap<String, Client>>,
    keys: Mutex<HashMap<String, PublicKey>>,
    /// Fingerprints no listing held, by region and hour of the digest: asked for once.
    unknown: Mutex<HashSet<(String, String, i64)>>,
}

impl CloudTrailKeys {
    /// Keys asked for with the SDK configuration `sdk` (its region replaced by each digest's),
    /// bridging through `handle`.
    pub fn new(sdk: aws_config::SdkConfig, handle: Handle) -> Self {
        Self {
            sdk,
            handle,
            clients: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            unknown: Mutex::new(HashSet::new()),
        }
    }

    fn client(&self, region: &str) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                Client::from_conf(
                    aws_sdk_cloudtrail::config::Builder::from(&self.sdk)
                        .region(Region::new(region.to_owned()))
                        .build(),
                )
            })
            .clone()
    }

    /// Every key of `region` valid in the hour before `at_s`, every page.
    async fn list(&self, region: &str, at_s: i64) -> Result<Vec<PublicKey>, PortError> {
        let client = self.client(region);
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = client
                .list_public_keys()
                .start_time(DateTime::from_secs(at_s - KEY_WINDOW_S))
                .end_time(DateTime::from_secs(at_s))
                .set_next_token(token)
                .send()
                .await
                .map_err(classify)?;
            keys.extend(
                page.public_key_list()
                    .iter()
                    .filter_map(|k| k.value())
                    .map(|v| PublicKey::from_pkcs1_der(v.as_ref())),
            );
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(keys);
            }
        }
    }
}

impl KeyStore for CloudTrailKeys {
    fn find(
        &self,
        region: &str,
        fingerprint: &str,
        at_s: i64,
    ) -> Result<Option<PublicKey>, PortError> {
        let fingerprint = fingerprint.to_ascii_lowercase();
        let cached = |keys: &HashMap<String, PublicKey>| keys.get(&fingerprint).cloned();
        if let Some(key) = cached(&self.keys.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(Some(key));
        }
        let asked = (
            region.to_owned(),
            fingerprint.clone(),
            at_s.div_euclid(KEY_WINDOW_S),
        );
        let mut unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        if unknown.contains(&asked) {
            return Ok(None);
        }
        let listed = self.handle.block_on(self.list(region, at_s))?;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        for key in listed {
            keys.insert(key.fingerprint.clone(), key);
        }
        let found = cached(&keys);
        if found.is_none() {
            unknown.insert(asked);
        }
        Ok(found)
    }
}

/// Keys from files, or from CloudTrail.
#[derive(Debug)]
pub enum Keys {
    /// Key files read beforehand.
    Files(KeyRing),
    /// `ListPublicKeys`.
    CloudTrail(Box<CloudTrailKeys>),
}

impl KeyStore for Keys {
    fn find(
        &self,
        region: &str,
        fingerprint: &str,
        at_s: i64,
    ) -> Result<Option<PublicKey>, PortError> {
        match self {
            Self::Files(ring) => ring.find(region, fingerprint, at_s),
            Self::CloudTrail(keys) => keys.find(region, fingerprint, at_s),
        }
    }
}
