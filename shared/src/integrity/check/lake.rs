//! The lake: each listed log file, once its grace period is over, in a commit of its window with
//! the listed hash. A window's commits are read through their account and region's indexes
//! (`_lake/windows/YYYY/MM/DD/HH/NNNN/ACCOUNT/REGION.json`), once per chain and window.

use std::collections::HashMap;

use super::files::MAX_HEALS;
use super::{Awaiting, Checker, MAX_DIGEST_BYTES};
use crate::integrity::digest::same_hex;
use crate::integrity::keys::KeyStore;
use crate::integrity::{Chain, Finding, FindingKind};
use crate::key::TrailKey;
use crate::lake::{ChainIndex, Window};
use crate::ports::{ObjectRef, ObjectSource, PortError, read_bounded};

/// One window's files in the lake, by key: their hash and the commit holding them; or why the
/// window's records could not be read.
type WindowFiles = Result<HashMap<String, (String, u32)>, String>;

/// What the lake holds of one chain, by window.
#[derive(Debug, Default)]
pub(super) struct Seen {
    chain: Option<(String, String)>,
    windows: HashMap<Window, WindowFiles>,
}

/// Where a key stands in the lake.
enum Held {
    /// A commit holds it, with this hash.
    With { sha256: String, commit: u32 },
    /// No commit of its window holds it.
    No { window: Window },
    /// Its window's records cannot be read.
    Unreadable(String),
}

impl<S: ObjectSource, K: KeyStore> Checker<'_, S, K> {
    /// Judges `file` against the lake when the lake is checked and awaited: the same file with
    /// the lake settled (found, or named) or still awaited.
    pub(super) fn check_lake(
        &mut self,
        chain: &Chain,
        file: &Awaiting,
        out: &mut dyn FnMut(Finding),
    ) -> Result<Awaiting, PortError> {
        let Some(due_s) = file.lake_due_s else {
            return Ok(file.clone());
        };
        let settled = Awaiting {
            lake_due_s: None,
            ..file.clone()
        };
        // Awaited when the lake was checked, not any more: nothing to judge it by.
        if self.evidence.lake.is_none() {
            return Ok(settled);
        }
        let detail = match self.held(chain, &file.key)? {
            Held::With { sha256, .. } if same_hex(&sha256, &file.sha256) => {
                self.tally.log_files_in_lake += 1;
                return Ok(settled);
            }
            Held::With { sha256, commit } => format!(
                "commit {commit} of its window holds SHA-256 {sha256} where the digest lists {}",
                file.sha256
            ),
            Held::No { .. } | Held::Unreadable(_) if self.now_s < due_s => {
                self.tally.awaiting_lake += 1;
                return Ok(file.clone());
            }
            Held::No { window } => format!("no commit of window {window} holds it"),
            Held::Unreadable(why) => why,
        };
        let misses = file.lake_misses + 1;
        let detail = match misses {
            1 => detail,
            n => format!("{detail} (found {n} times)"),
        };
        let digest = Some(file.digest.clone());
        let kind = FindingKind::LogFileNotInLake;
        out(self.found(chain, kind, file.key.clone(), digest, detail));
        // Looked for again a grace period later (a late commit settles it), a few times.
        Ok(match misses <= MAX_HEALS {
            true => Awaiting {
                lake_due_s: Some(self.now_s + self.options.lake_grace_s),
                lake_misses: misses,
                ..file.clone()
            },
            false => settled,
        })
    }

    fn held(&mut self, chain: &Chain, key: &str) -> Result<Held, PortError> {
        let parsed = TrailKey::parse(key);
        let Some(delivered_s) = parsed.delivered_s() else {
            return Ok(Held::Unreadable(
                "its name states no delivery time, so no window holds it".to_owned(),
            ));
        };
        let window = Window::of(delivered_s);
        let chain_id = (chain.account.clone(), chain.region.clone());
        if self.lake_seen.chain.as_ref() != Some(&chain_id) {
            self.lake_seen = Seen {
                chain: Some(chain_id),
                windows: HashMap::new(),
            };
        }
        if !self.lake_seen.windows.contains_key(&window) {
            let read = self.read_window(chain, window)?;
            self.lake_seen.windows.insert(window, read);
        }
        Ok(match &self.lake_seen.windows[&window] {
            Err(why) => Held::Unreadable(why.clone()),
            Ok(keys) => match keys.get(key) {
                Some((sha256, commit)) => Held::With {
                    sha256: sha256.clone(),
                    commit: *commit,
                },
                None => Held::No { window },
            },
        })
    }

    /// The chain's files in every commit of `window`: commits are numbered from 1, and the
    /// first number without a manifest ends them.
    fn read_window(&self, chain: &Chain, window: Window) -> Result<WindowFiles, PortError> {
        let Some((store, prefix)) = &self.evidence.lake else {
            return Ok(Ok(HashMap::new()));
        };
        let source = self.evidence.source;
        let mut keys = HashMap::new();
        for commit in 1.. {
            let name = window.chain_index_name(commit, &chain.account, &chain.region);
            let index = ObjectRef::new(store.clone(), format!("{prefix}{name}"));
            match source.open_existing(&index)? {
                Some(opened) => {
                    let bytes = read_bounded(opened.reader, MAX_DIGEST_BYTES)?;
                    let index: ChainIndex = match serde_json::from_slice(&bytes) {
                        Ok(index) => index,
                        Err(e) => return Ok(Err(format!("{} is not an index: {e}", index.key))),
                    };
                    for entry in index.files {
                        keys.entry(entry.key).or_insert((entry.sha256, commit));
                    }
                }
                None => {
                    let manifest = format!("{prefix}{}", window.manifest_name(commit));
                    let manifest = ObjectRef::new(store.clone(), manifest);
                    if source.open_existing(&manifest)?.is_none() {
                        break;
                    }
                }
            }
        }
        Ok(Ok(keys))
    }
}
