//! An IPC file's footer alone: its schema, key-value metadata and batch count, from the last
//! bytes of the file (read already) and, when the footer is longer than those, one more range.

use arrow_buffer::Buffer;
use arrow_schema::SchemaRef;

use crate::bytes::RangeRead;
use crate::error::{guarded, Result};
use crate::ipc::layout::{footer_len, footer_start};
use crate::ipc::reader::FileFooter;
use crate::ipc::{corrupt, ARROW_FILE_MAGIC, FILE_TRAILER_LEN};

/// What an IPC file's footer says.
pub(crate) struct IpcFooter {
    pub schema: SchemaRef,
    pub metadata: Vec<(String, String)>,
    pub batches: usize,
}

/// The footer of the IPC file in `source`, whose last bytes are `tail`; `Corrupt` for a
/// stream (which has no footer) or a damaged file.
pub(crate) fn footer_from_tail(source: &dyn RangeRead, tail: &Buffer) -> Result<IpcFooter> {
    let size = source.size();
    if !tail.ends_with(ARROW_FILE_MAGIC) {
        return Err(corrupt(
            "not an Arrow IPC file: an IPC stream has no footer to read",
        ));
    }
    let tail_start = size - tail.len() as u64;
    let trailer_start = tail.len() - FILE_TRAILER_LEN;
    let length = footer_len(&tail[trailer_start..])? as u64;
    let start = footer_start(size, length)?;
    let footer = if start >= tail_start {
        tail.slice_with_length((start - tail_start) as usize, length as usize)
    } else {
        source.read_range(start..start + length)?
    };
    // arrow-ipc's schema conversion panics on some damaged field types.
    guarded(
        |panic| corrupt(format!("unreadable footer: {panic}")),
        || {
            let footer = FileFooter::parse(footer.as_slice(), None)?;
            Ok(IpcFooter {
                schema: footer.full_schema,
                metadata: footer.metadata,
                batches: footer.batches.len(),
            })
        },
    )
}
