//! The lake's own records, beside the table: the pending attempt and the published manifests,
//! and the recovery that settles an attempt a stopped run left.

use trailrelay::lake::{Manifest, Pending, Window, summary};

use super::{Lake, LakeError, PENDING, Recovered};

impl Lake {
    pub(super) fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, LakeError> {
        self.handle.block_on(async {
            let io = self.io();
            if !io
                .exists(path)
                .await
                .map_err(LakeError::iceberg(format!("looking for {path}")))?
            {
                return Ok(None);
            }
            let input = io.new_input(path).map_err(LakeError::iceberg(path))?;
            let bytes = input
                .read()
                .await
                .map_err(LakeError::iceberg(format!("reading {path}")))?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| LakeError::Unreadable {
                    path: path.to_owned(),
                    message: e.to_string(),
                })
        })
    }

    pub(super) fn write_json<T: serde::Serialize>(
        &self,
        path: &str,
        value: &T,
    ) -> Result<(), LakeError> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| LakeError::Unreadable {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        self.write_bytes(path, bytes)
    }

    pub(super) fn write_bytes(&self, path: &str, bytes: Vec<u8>) -> Result<(), LakeError> {
        self.handle.block_on(async {
            let output = self
                .io()
                .new_output(path)
                .map_err(LakeError::iceberg(path))?;
            output
                .write(bytes.into())
                .await
                .map_err(LakeError::iceberg(format!("writing {path}")))
        })
    }

    pub(super) fn delete(&self, path: &str) -> Result<(), LakeError> {
        self.handle
            .block_on(self.io().delete(path))
            .map_err(LakeError::iceberg(format!("removing {path}")))
    }

    /// Whether a snapshot of the table names `attempt`.
    pub(super) fn committed_attempt(&self, attempt: &str) -> bool {
        self.table.metadata().snapshots().any(|s| {
            s.summary()
                .additional_properties
                .get(summary::ATTEMPT)
                .map(String::as_str)
                == Some(attempt)
        })
    }

    /// Settles the attempt a stopped run left pending, if any: publishes its manifest when the
    /// table holds its commit, else removes its data files.
    pub fn recover(&mut self) -> Result<Option<Recovered>, LakeError> {
        let path = self.lake_path(PENDING);
        let Some(pending) = self.read_json::<Pending>(&path)? else {
            return Ok(None);
        };
        self.reload()?;
        let window = pending.window.clone();
        let outcome = if self.committed_attempt(&pending.attempt) {
            let manifest = pending
                .manifest
                .as_ref()
                .ok_or_else(|| LakeError::Unreadable {
                    path: path.clone(),
                    message: format!(
                        "attempt {} committed, but its pending record names no manifest",
                        pending.attempt
                    ),
                })?;
            self.publish(manifest)?;
            Recovered::Published {
                window,
                commit: manifest.commit,
            }
        } else {
            if !self.all_snapshots_since(pending.started_ms) {
                return Err(LakeError::Undecidable {
                    attempt: pending.attempt,
                    window,
                    pending: path,
                });
            }
            // Its folder, from its window and id (never from a path the record names).
            let window = Window::parse(&pending.window).ok_or_else(|| LakeError::Unreadable {
                path: path.clone(),
                message: format!("{:?} is not a window", pending.window),
            })?;
            let folder = self.attempt_data(window, &pending.attempt)?;
            self.block_on(self.io().delete_prefix(&folder))
                .map_err(LakeError::iceberg(format!("removing {folder}")))?;
            Recovered::Abandoned {
                attempt: pending.attempt.clone(),
                folder,
            }
        };
        self.delete(&path)?;
        Ok(Some(outcome))
    }

    /// Whether every snapshot made since `started_ms` is still in the table's metadata: no
    /// snapshot was made since, or the oldest one kept is older (expiry removes the oldest).
    pub(super) fn all_snapshots_since(&self, started_ms: i64) -> bool {
        let snapshots = || self.table.metadata().snapshots();
        let none_since = snapshots().all(|s| s.timestamp_ms() < started_ms);
        let oldest = snapshots().map(|s| s.timestamp_ms()).min();
        none_since || oldest.is_some_and(|t| t < started_ms)
    }

    /// Writes `manifest` where its window's manifests are, with its account and region
    /// indexes, unless it is there already (a published manifest is never replaced).
    pub(super) fn publish(&self, manifest: &Manifest) -> Result<(), LakeError> {
        let files = manifest.published().ok_or_else(|| LakeError::Unreadable {
            path: self.lake_path(PENDING),
            message: format!("{:?} is not a window", manifest.window),
        })?;
        let Some((manifest_name, _)) = files.last() else {
            return Ok(());
        };
        if let Some(there) = self.read_json::<Manifest>(&self.lake_path(manifest_name))? {
            // Published already by this attempt (a run stopped after publishing); by another,
            // two writers ran at once.
            return match there.attempt == manifest.attempt {
                true => Ok(()),
                false => Err(LakeError::Unreadable {
                    path: self.lake_path(manifest_name),
                    message: format!(
                        "commit {} of window {} is attempt {}'s, not {}'s: two writers ran at once",
                        manifest.commit, manifest.window, there.attempt, manifest.attempt
                    ),
                }),
            };
        }
        for (name, bytes) in files {
            self.write_bytes(&self.lake_path(&name), bytes)?;
        }
        Ok(())
    }

    /// The manifests of `window`'s commits, in commit order.
    pub fn manifests(&self, window: Window) -> Result<Vec<Manifest>, LakeError> {
        let mut manifests = Vec::new();
        for commit in 1.. {
            let path = self.lake_path(&window.manifest_name(commit));
            match self.read_json::<Manifest>(&path)? {
                Some(m) => manifests.push(m),
                None => break,
            }
        }
        Ok(manifests)
    }
}
