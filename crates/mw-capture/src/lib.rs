//! Data capture in SageMaker's format: records, sampling, files, ground truth.
//!
//! - [`record`]: the capture record (`captureData.endpointInput/endpointOutput`,
//!   `eventMetadata`, `eventVersion`) and the ground-truth record
//!   (`groundTruthData`, `eventMetadata.eventId`), with [`encode_event`] for
//!   writers and validating parsers for readers. [`ContentTypes`] decides
//!   which payloads are captured as text and which as base64.
//! - [`ids`]: the [`Sampler`] (Bernoulli, any percentage) and event ids (UUID v4).
//! - [`layout`]: the folder layout, `<root>/<endpoint>/<variant>/yyyy/mm/dd/HH/MM-SS-mmm-UUID.jsonl`.
//! - [`writer`]: [`RotatingWriter`], hourly and size-bounded files, durable commits.
//! - [`store`]: [`CaptureStore`], the server's capture and ground-truth files,
//!   listed and read by endpoint and time range through its catalog, a
//!   SQLite index of the files reconciled with the folder tree at open.
//!
//! The format is SageMaker's, so existing notebooks and Model Monitor jobs
//! read what is written here, and files SageMaker wrote can be read back
//! (`docs/formats/capture.md`). This crate does no HTTP: the sidecar and the
//! server's native API call into it.
//!
//! ```no_run
//! use mw_capture::{encode_event, ContentTypes, Event, Observed};
//! let mut line = Vec::new();
//! encode_event(&mut line, &Event {
//!     input: Some(Observed { content_type: "text/csv", body: b"1,2,3" }),
//!     output: Some(Observed { content_type: "text/csv", body: b"0.5" }),
//!     event_id: &mw_capture::ids::uuid_v4(),
//!     inference_id: None,
//!     custom_attributes: None,
//!     inference_time_ms: mw_model::time::now_ms(),
//! }, &ContentTypes::default());
//! ```

mod catalog;
mod error;
pub mod ids;
pub mod layout;
pub mod record;
pub mod store;
pub mod writer;

pub use catalog::Reconciled;
pub use error::{Error, ErrorKind, Result};
pub use ids::Sampler;
pub use record::{
    encode_event, CaptureRecord, CapturedPayload, ContentTypes, Encoding, Event, GroundTruthRecord,
    Observed,
};
pub use store::{CaptureStore, FileInfo, Page, StoreConfig, StoredCapture};
pub use writer::{CreateHook, RotatingWriter, WriterConfig};

#[cfg(test)]
pub(crate) mod testdir {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fresh folder under the system temp dir, removed on drop.
    pub struct TestDir(pub PathBuf);

    impl TestDir {
        pub fn new(tag: &str) -> TestDir {
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "mw-capture-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TestDir(p)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
