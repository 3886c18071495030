//! The table's catalog: SQLite beside a local warehouse.
//!
//! A local lake is a folder: `catalog.db` (the SQLite catalog, named [`CATALOG_NAME`]) and
//! `warehouse/` (the table's data and metadata). PyIceberg opens the same table with
//! `SqlCatalog("trailrelay", uri="sqlite:///DIR/catalog.db", warehouse="file:///DIR/warehouse")`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use iceberg::io::LocalFsStorageFactory;
use iceberg::{Catalog, CatalogBuilder};
use iceberg_catalog_sql::{
    SQL_CATALOG_PROP_BIND_STYLE, SQL_CATALOG_PROP_URI, SQL_CATALOG_PROP_WAREHOUSE, SqlBindStyle,
    SqlCatalogBuilder,
};

/// The catalog's name, stored with each table it lists.
pub const CATALOG_NAME: &str = "trailrelay";

/// Where a local lake keeps its catalog and warehouse.
#[derive(Debug, Clone)]
pub struct LocalLake {
    /// The lake's folder.
    pub dir: PathBuf,
}

impl LocalLake {
    /// The lake in `dir` (made absolute: the catalog stores locations).
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("warehouse"))?;
        Ok(Self {
            dir: std::path::absolute(dir)?,
        })
    }

    /// `DIR/catalog.db`.
    pub fn catalog_path(&self) -> PathBuf {
        self.dir.join("catalog.db")
    }

    /// `file:///DIR/warehouse`.
    pub fn warehouse(&self) -> String {
        format!("file://{}", self.dir.join("warehouse").display())
    }

    /// Opens (creating) the SQLite catalog. Runs on the current runtime.
    pub async fn catalog(&self) -> iceberg::Result<Arc<dyn Catalog>> {
        let props = HashMap::from([
            (
                SQL_CATALOG_PROP_URI.to_owned(),
                format!("sqlite:{}?mode=rwc", self.catalog_path().display()),
            ),
            (SQL_CATALOG_PROP_WAREHOUSE.to_owned(), self.warehouse()),
            (
                SQL_CATALOG_PROP_BIND_STYLE.to_owned(),
                SqlBindStyle::QMark.to_string(),
            ),
        ]);
        let catalog = SqlCatalogBuilder::default()
            .with_storage_factory(Arc::new(LocalFsStorageFactory))
            .load(CATALOG_NAME, props)
            .await?;
        Ok(Arc::new(catalog))
    }
}
