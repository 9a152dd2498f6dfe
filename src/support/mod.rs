//! What every layer may use and that knows nothing of paperboy's domain: the clock (the only
//! "now"), private folders and files, TeX and text for display, logging.

pub mod bounded;
pub mod clock;
pub mod envfile;
pub mod fs;
pub mod limits;
pub mod lock;
pub mod redact;
pub mod telemetry;
pub mod tex;
pub mod text;
