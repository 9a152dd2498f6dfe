//! Large stored texts kept small: a digest's exact message bytes and its page are deflated
//! (`PBZ1` + deflate), and read back byte for byte. Rows written before are read as they are.

use std::io::{Read as _, Write as _};

const MAGIC: &[u8] = b"PBZ1";

/// `bytes`, deflated behind the marker.
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    let mut z = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::best());
    z.write_all(bytes).expect("writing to memory cannot fail");
    z.finish().expect("writing to memory cannot fail");
    out
}

/// What [`pack`] was given; a blob without the marker (an older row) as it is.
pub fn unpack(blob: &[u8]) -> std::io::Result<Vec<u8>> {
    match blob.strip_prefix(MAGIC) {
        Some(deflated) => {
            let mut out = Vec::with_capacity(deflated.len() * 4);
            flate2::read::DeflateDecoder::new(deflated).read_to_end(&mut out)?;
            Ok(out)
        }
        None => Ok(blob.to_vec()),
    }
}

/// [`unpack`] for a SQLite column: a broken blob is a conversion error naming the column.
pub fn column(blob: Vec<u8>, col: usize) -> rusqlite::Result<Vec<u8>> {
    unpack(&blob).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Blob, Box::new(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_bytes_come_back_exactly_and_old_rows_read_as_they_are() {
        let mail = "Subject: arXiv digest\r\n\r\n".repeat(200).into_bytes();
        let packed = pack(&mail);
        assert!(
            packed.len() * 5 < mail.len(),
            "{} of {}",
            packed.len(),
            mail.len()
        );
        assert_eq!(unpack(&packed).unwrap(), mail);
        assert_eq!(unpack(b"From: a raw row").unwrap(), b"From: a raw row");
        assert!(unpack(b"PBZ1\xff\xff not deflate").is_err());
    }
}
