//! One encapsulated IPC message: its flatbuffer header parsed, and the byte order of a schema
//! checked before anything converts it. The leaf every other IPC reader stands on.

use arrow_ipc::{Endianness, Message};

use crate::error::{FastIoError, Result};

/// Parses the flatbuffer of an encapsulated message (with or without the continuation marker).
pub(crate) fn parse_message(message: &[u8]) -> Result<Message<'_>> {
    let flatbuffer = match message {
        [0xff, 0xff, 0xff, 0xff, _, _, _, _, rest @ ..] => rest,
        [_, _, _, _, rest @ ..] => rest,
        _ => {
            return Err(FastIoError::Corrupt(
                "a message is shorter than its header".into(),
            ))
        }
    };
    arrow_ipc::root_as_message(flatbuffer)
        .map_err(|e| FastIoError::Corrupt(format!("unreadable message header: {e}")))
}

/// Refuses a schema written in the other byte order. arrow-rs cannot swap bytes, so its
/// decoders would read every multi-byte value wrong (and `fb_to_schema` panics on big-endian
/// decimals): this runs before a schema is converted, on every path that meets one.
pub(crate) fn check_byte_order(schema: arrow_ipc::Schema<'_>) -> Result<()> {
    let endianness = schema.endianness();
    if endianness.equals_to_target_endianness() {
        return Ok(());
    }
    let written = if endianness == Endianness::Big {
        "big-endian"
    } else {
        "little-endian"
    };
    Err(FastIoError::Corrupt(format!(
        "the data was written {written}, the other byte order from this machine's; \
         reading it is not supported (pyarrow can read it and write it back)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_shorter_than_its_header_is_corrupt() {
        for bytes in [&b""[..], &b"\xff\xff\xff"[..], &b"\x01\x02\x03\x04\x05"[..]] {
            assert!(matches!(parse_message(bytes), Err(FastIoError::Corrupt(_))));
        }
    }
}
