//! The table's catalog: SQLite beside a local warehouse, or AWS Glue with the warehouse on S3.
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

/// How the Glue catalog and the table's S3 storage are reached.
#[derive(Debug, Clone, Default)]
pub struct GlueSettings {
    /// `s3://BUCKET/PREFIX`: tables go to `PREFIX/trailrelay.db/cloudtrail`.
    pub warehouse: String,
    /// The region (else the SDK's usual lookup).
    pub region: Option<String>,
    /// Another endpoint for Glue and S3 (`AWS_ENDPOINT_URL`: local emulators).
    pub endpoint: Option<String>,
    /// Address S3 by path.
    pub path_style: bool,
}

/// Opens the Glue Data Catalog, its tables' files on S3. Credentials come the SDK's usual way
/// (environment, profile, the role of the machine). Runs on the current runtime.
pub async fn glue(settings: &GlueSettings) -> iceberg::Result<Arc<dyn Catalog>> {
    use iceberg::io::{S3_ENDPOINT, S3_PATH_STYLE_ACCESS, S3_REGION};
    use iceberg_catalog_glue::{
        AWS_REGION_NAME, GLUE_CATALOG_PROP_URI, GLUE_CATALOG_PROP_WAREHOUSE, GlueCatalogBuilder,
    };
    let mut props = HashMap::from([
        (
            GLUE_CATALOG_PROP_WAREHOUSE.to_owned(),
            settings.warehouse.clone(),
        ),
        (
            S3_PATH_STYLE_ACCESS.to_owned(),
            settings.path_style.to_string(),
        ),
    ]);
    if let Some(region) = &settings.region {
        props.insert(AWS_REGION_NAME.to_owned(), region.clone());
        props.insert(S3_REGION.to_owned(), region.clone());
    }
    if let Some(endpoint) = &settings.endpoint {
        props.insert(GLUE_CATALOG_PROP_URI.to_owned(), endpoint.clone());
        props.insert(S3_ENDPOINT.to_owned(), endpoint.clone());
    }
    let catalog = GlueCatalogBuilder::default()
        .with_storage_factory(Arc::new(
            iceberg_storage_opendal::OpenDalResolvingStorageFactory::new(),
        ))
        .load(CATALOG_NAME, props)
        .await?;
    Ok(Arc::new(catalog))
}
