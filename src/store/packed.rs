//! Large stored texts kept small: a digest's exact message bytes and its page are deflated
//! (`PBZ1` + deflate), and read back byte for byte. Rows written before are read as they are.
//! Once a day's digests are sent they are compressed together into one bundle (`mail_bundles`,
//! zstd) and each row keeps a reference into it (`PBB1`): they share their template and many
//! papers, so the bundle is a fraction of the messages deflated one by one.

use std::io::{Read as _, Write as _};

const MAGIC: &[u8] = b"PBZ1";

/// One stored message or page decompresses to at most this (a digest is well under 5 MB).
pub const MAX_UNPACKED: usize = 64 << 20;
/// A day's bundle decompresses to at most this (1,000 digests of 100 KB are 100 MB).
pub const MAX_BUNDLE: usize = 512 << 20;

/// All of `reader`, but an error past `max` bytes: a stored blob that would decompress to more
/// was not written by paperboy (a bomb, or a broken store), and is not expanded.
pub fn read_at_most(reader: impl std::io::Read, max: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.take(max as u64 + 1).read_to_end(&mut out)?;
    if out.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "a stored blob decompresses past {} MB: not one paperboy wrote",
                max >> 20
            ),
        ));
    }
    Ok(out)
}

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
        Some(deflated) => read_at_most(flate2::read::DeflateDecoder::new(deflated), MAX_UNPACKED),
        None => Ok(blob.to_vec()),
    }
}

const BUNDLED: &[u8] = b"PBB1";

/// Where a message sits in a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InBundle {
    pub bundle: i64,
    pub offset: u32,
    pub len: u32,
}

/// The reference a row keeps once its message is in a bundle.
pub fn reference(at: InBundle) -> Vec<u8> {
    let mut out = BUNDLED.to_vec();
    out.extend_from_slice(&at.bundle.to_le_bytes());
    out.extend_from_slice(&at.offset.to_le_bytes());
    out.extend_from_slice(&at.len.to_le_bytes());
    out
}

/// The bundle reference in `blob`, when it is one.
pub fn bundled(blob: &[u8]) -> Option<InBundle> {
    let rest = blob.strip_prefix(BUNDLED)?;
    if rest.len() != 16 {
        return None;
    }
    Some(InBundle {
        bundle: i64::from_le_bytes(rest[..8].try_into().ok()?),
        offset: u32::from_le_bytes(rest[8..12].try_into().ok()?),
        len: u32::from_le_bytes(rest[12..].try_into().ok()?),
    })
}

/// Messages per bundle: enough to share the template and the day's papers (100 digests in one
/// bundle take 172 KB, in bundles of 64 and 36 about 250 KB), few enough that one stays small in memory
/// (about 5 MB of mail).
pub const BUNDLE_SIZE: usize = 128;

/// Messages, one after another, compressed as one (zstd, with a window that spans them all).
pub fn bundle(messages: &[Vec<u8>]) -> std::io::Result<Vec<u8>> {
    let total: usize = messages.iter().map(Vec::len).sum();
    // Level 19 with small match tables (the level's own take 60 MB): 100 digests of 4.1 MB take
    // 172 KB in 1 s and 15 MB (2^20/2^21 tables: 163 KB, but 6 MB more at the 1,000-reader
    // peak; level 15 as it comes: 212 KB and 73 MB; deflated one by one: 1 MB).
    let mut z = zstd::stream::Encoder::new(Vec::new(), 19)?;
    z.include_checksum(true)?;
    // A window as long as the bundle (1 to 4 MB): every message can refer back to the first.
    let window = (usize::BITS - total.max(1 << 20).leading_zeros()).min(22);
    z.window_log(window)?;
    z.set_parameter(zstd::stream::raw::CParameter::HashLog(19))?;
    z.set_parameter(zstd::stream::raw::CParameter::ChainLog(20))?;
    z.set_pledged_src_size(Some(total as u64))?;
    for m in messages {
        z.write_all(m)?;
    }
    z.finish()
}

/// The messages of a bundle, one after another, up to byte `upto` (what a message at the end of
/// that needs), and never past [`MAX_BUNDLE`].
pub fn unbundle(blob: &[u8], upto: usize) -> std::io::Result<Vec<u8>> {
    let mut d = zstd::stream::Decoder::new(blob)?;
    d.window_log_max(22)?;
    if upto > MAX_BUNDLE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "a message reference points past the largest bundle paperboy writes",
        ));
    }
    let mut out = Vec::new();
    d.take(upto as u64).read_to_end(&mut out)?;
    Ok(out)
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

    /// A blob that would decompress past the bound is refused, not expanded (a 64 MB bomb
    /// deflates to ~64 KB).
    #[test]
    fn a_decompression_bomb_is_refused() {
        let bomb = pack(&vec![0u8; MAX_UNPACKED + 1]);
        assert!(bomb.len() < 200_000, "{}", bomb.len());
        let e = unpack(&bomb).unwrap_err();
        assert!(e.to_string().contains("decompresses past 64 MB"), "{e}");
        let fine = pack(&vec![0u8; 1000]);
        assert_eq!(unpack(&fine).unwrap().len(), 1000);
        // A bundle is read only as far as the message asked for.
        let bundle = bundle(&[vec![7u8; 10_000], vec![8u8; 10_000]]).unwrap();
        assert_eq!(unbundle(&bundle, 10_000).unwrap().len(), 10_000);
        assert!(unbundle(&bundle, MAX_BUNDLE + 1).is_err());
    }

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

    #[test]
    fn a_bundle_gives_every_message_back_and_is_smaller_than_each_alone() {
        let template = "<style>td{padding:4px}</style><p>Your papers today</p>".repeat(40);
        let messages: Vec<Vec<u8>> = (0..20)
            .map(|i| format!("Message-ID: <{i}@x>\r\n\r\n{template} reader {i}").into_bytes())
            .collect();
        let blob = bundle(&messages).unwrap();
        let alone: usize = messages.iter().map(|m| pack(m).len()).sum();
        assert!(blob.len() * 5 < alone, "{} vs {alone}", blob.len());
        let all = unbundle(&blob, MAX_BUNDLE).unwrap();
        let mut offset = 0;
        for m in &messages {
            assert_eq!(&all[offset..offset + m.len()], &m[..]);
            offset += m.len();
        }
        let at = InBundle {
            bundle: 7,
            offset: 123,
            len: 456,
        };
        assert_eq!(bundled(&reference(at)), Some(at));
        assert_eq!(bundled(b"PBZ1 deflated"), None);
    }
}
