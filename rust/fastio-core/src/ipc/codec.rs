//! The two codecs of the Arrow IPC format, called through their libraries' lower-level APIs
//! so that they read from and write into the caller's memory: zstd's one-shot functions with
//! a context kept per thread, and liblz4's frame functions (lz4-sys) likewise.
//!
//! Frames are standard: zstd frames record their content size; lz4 frames use 64 KiB linked
//! blocks, as pyarrow writes them, which liblz4 decodes straight into the destination (with
//! larger blocks it must decode a buffer's last block aside and copy it).

use std::cell::RefCell;
use std::mem::MaybeUninit;

use arrow_ipc::CompressionType;

use crate::error::{FastIoError, Result};

/// Decompresses one buffer's `frame` with `codec` into `out`, which it must fill exactly.
pub(crate) fn decompress_into(
    codec: CompressionType,
    frame: &[u8],
    out: &mut [MaybeUninit<u8>],
) -> Result<()> {
    if codec == CompressionType::ZSTD {
        zstd_into(frame, out)
    } else {
        lz4_into(frame, out)
    }
}

/// Appends `data` compressed with `codec` (zstd at `level`) to `out`.
pub(crate) fn compress_append(
    codec: CompressionType,
    level: i32,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    if codec == CompressionType::ZSTD {
        zstd_append(level, data, out)
    } else {
        lz4_append(data, out)
    }
}

/// Uninitialized memory that zstd writes into; it reports how much it wrote.
struct Uninit<'a> {
    memory: &'a mut [MaybeUninit<u8>],
    filled: usize,
}

// Safety: `as_slice` covers only what zstd reported as written; the pointer and capacity
// describe `memory`, which outlives the call.
unsafe impl zstd::zstd_safe::WriteBuf for Uninit<'_> {
    fn as_slice(&self) -> &[u8] {
        // Safety: the first `filled` bytes were written by zstd.
        unsafe { std::slice::from_raw_parts(self.memory.as_ptr() as *const u8, self.filled) }
    }

    fn capacity(&self) -> usize {
        self.memory.len()
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.memory.as_mut_ptr() as *mut u8
    }

    unsafe fn filled_until(&mut self, n: usize) {
        self.filled = n;
    }
}

thread_local! {
    static ZSTD: RefCell<Option<zstd::zstd_safe::DCtx<'static>>> = const { RefCell::new(None) };
    static LZ4: RefCell<Option<Lz4Context>> = const { RefCell::new(None) };
}

fn zstd_into(frame: &[u8], out: &mut [MaybeUninit<u8>]) -> Result<()> {
    let expected = out.len();
    let mut target = Uninit {
        memory: out,
        filled: 0,
    };
    let written = ZSTD.with_borrow_mut(|context| {
        let context = context.get_or_insert_with(zstd::zstd_safe::DCtx::create);
        context.decompress(&mut target, frame)
    });
    match written {
        Ok(n) if n == expected => Ok(()),
        Ok(n) => Err(corrupt(format!(
            "a zstd buffer decompressed to {n} bytes where its prefix says {expected}"
        ))),
        Err(code) => Err(corrupt(format!(
            "a zstd buffer does not decompress: {}",
            zstd::zstd_safe::get_error_name(code)
        ))),
    }
}

/// A liblz4 frame decompression context, reused by one thread.
struct Lz4Context(lz4_sys::LZ4FDecompressionContext);

impl Lz4Context {
    fn new() -> Result<Self> {
        let mut context = lz4_sys::LZ4FDecompressionContext(std::ptr::null_mut());
        // Safety: liblz4 fills in the pointer, freed in Drop.
        let code = unsafe {
            lz4_sys::LZ4F_createDecompressionContext(&mut context, lz4_sys::LZ4F_VERSION)
        };
        lz4_result(code).map(|_| Lz4Context(context))
    }
}

impl Drop for Lz4Context {
    fn drop(&mut self) {
        // Safety: created by LZ4F_createDecompressionContext and freed once.
        unsafe { lz4_sys::LZ4F_freeDecompressionContext(self.0) };
    }
}

fn lz4_result(code: usize) -> Result<usize> {
    // Safety: both functions only inspect the code; the name is a static C string.
    if unsafe { lz4_sys::LZ4F_isError(code) } != 0 {
        let name = unsafe { std::ffi::CStr::from_ptr(lz4_sys::LZ4F_getErrorName(code)) };
        return Err(corrupt(format!(
            "an lz4 buffer does not decompress: {}",
            name.to_string_lossy()
        )));
    }
    Ok(code)
}

/// Decompresses the lz4 frame (or frames, one after another) in `frame` into `out`, which it
/// must fill exactly. liblz4 writes blocks straight into `out`, linked blocks and frames
/// without a content size (pyarrow's) included.
fn lz4_into(frame: &[u8], out: &mut [MaybeUninit<u8>]) -> Result<()> {
    LZ4.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(Lz4Context::new()?);
        }
        let context = slot.as_ref().expect("set above");
        // Safety: the context is valid; a reset makes it forget a frame an earlier error left
        // half-read.
        unsafe { lz4_sys::LZ4F_resetDecompressionContext(context.0) };
        // `out` stays put until the whole frame is decoded, so liblz4 may keep its history
        // there instead of copying each block's last 64 KiB aside.
        let options = lz4_sys::LZ4FDecompressOptions {
            stable_dst: 1,
            reserved: [0; 3],
        };
        let (mut read, mut written) = (0usize, 0usize);
        while read < frame.len() {
            let mut src_size = frame.len() - read;
            let mut dst_size = out.len() - written;
            // Safety: the pointers and sizes describe the unread input and the unwritten part
            // of `out`; liblz4 writes at most `dst_size` bytes and reads at most `src_size`.
            let hint = lz4_result(unsafe {
                lz4_sys::LZ4F_decompress(
                    context.0,
                    out.as_mut_ptr().add(written) as *mut u8,
                    &mut dst_size,
                    frame.as_ptr().add(read),
                    &mut src_size,
                    &options,
                )
            })?;
            read += src_size;
            written += dst_size;
            if hint != 0 && src_size == 0 && dst_size == 0 {
                return Err(corrupt(
                    "an lz4 buffer decompresses to more bytes than its prefix says",
                ));
            }
        }
        if written != out.len() {
            return Err(corrupt(format!(
                "an lz4 buffer decompressed to {written} bytes where its prefix says {}",
                out.len()
            )));
        }
        Ok(())
    })
}

thread_local! {
    static ZSTD_COMPRESS: RefCell<Option<zstd::zstd_safe::CCtx<'static>>> =
        const { RefCell::new(None) };
    static LZ4_COMPRESS: RefCell<Option<Lz4Compressor>> = const { RefCell::new(None) };
}

fn zstd_append(level: i32, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    out.reserve(zstd::zstd_safe::compress_bound(data.len()));
    // A cursor at the end makes zstd append after the bytes already there.
    let mut cursor = std::io::Cursor::new(std::mem::take(out));
    cursor.set_position(start as u64);
    let written = ZSTD_COMPRESS.with_borrow_mut(|context| {
        let context = context.get_or_insert_with(zstd::zstd_safe::CCtx::create);
        context.compress(&mut cursor, data, level)
    });
    *out = cursor.into_inner();
    written.map(|_| ()).map_err(|code| {
        FastIoError::Internal(format!(
            "zstd failed to compress a buffer: {}",
            zstd::zstd_safe::get_error_name(code)
        ))
    })
}

/// A liblz4 frame compression context, reused by one thread.
struct Lz4Compressor(lz4_sys::LZ4FCompressionContext);

impl Lz4Compressor {
    fn new() -> Result<Self> {
        let mut context = lz4_sys::LZ4FCompressionContext(std::ptr::null_mut());
        // Safety: liblz4 fills in the pointer, freed in Drop.
        let code =
            unsafe { lz4_sys::LZ4F_createCompressionContext(&mut context, lz4_sys::LZ4F_VERSION) };
        lz4_result(code).map(|_| Lz4Compressor(context))
    }
}

impl Drop for Lz4Compressor {
    fn drop(&mut self) {
        // Safety: created by LZ4F_createCompressionContext and freed once.
        unsafe { lz4_sys::LZ4F_freeCompressionContext(self.0) };
    }
}

/// The most a frame header takes (LZ4F_HEADER_SIZE_MAX in lz4frame.h).
const LZ4_HEADER_MAX: usize = 19;

fn lz4_append(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let preferences = lz4_sys::LZ4FPreferences {
        frame_info: lz4_sys::LZ4FFrameInfo {
            block_size_id: lz4_sys::BlockSize::Max64KB,
            block_mode: lz4_sys::BlockMode::Linked,
            content_checksum_flag: lz4_sys::ContentChecksum::NoChecksum,
            frame_type: lz4_sys::FrameType::Frame,
            content_size: data.len() as u64,
            dict_id: 0,
            block_checksum_flag: lz4_sys::BlockChecksum::NoBlockChecksum,
        },
        compression_level: 0,
        auto_flush: 1,
        favor_dec_speed: 0,
        reserved: [0; 3],
    };
    // The source stays where it is for the whole frame, so liblz4 need not copy it aside.
    let options = lz4_sys::LZ4FCompressOptions {
        stable_src: 1,
        reserved: [0; 3],
    };
    LZ4_COMPRESS.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(Lz4Compressor::new()?);
        }
        let context = slot.as_ref().expect("set above");
        // Safety: the bound only reads the preferences.
        let bound = lz4_result(unsafe { lz4_sys::LZ4F_compressBound(data.len(), &preferences) })?;
        let start = out.len();
        out.reserve(LZ4_HEADER_MAX + bound);
        let capacity = out.capacity();
        let base = out.as_mut_ptr();
        let mut written = start;
        // Safety: each call writes at most the capacity left after `written`, which `reserve`
        // made at least the header maximum plus liblz4's bound for the data; the length is set
        // only to what liblz4 reported writing.
        unsafe {
            written += lz4_result(lz4_sys::LZ4F_compressBegin(
                context.0,
                base.add(written),
                capacity - written,
                &preferences,
            ))?;
            written += lz4_result(lz4_sys::LZ4F_compressUpdate(
                context.0,
                base.add(written),
                capacity - written,
                data.as_ptr(),
                data.len(),
                &options,
            ))?;
            written += lz4_result(lz4_sys::LZ4F_compressEnd(
                context.0,
                base.add(written),
                capacity - written,
                &options,
            ))?;
            out.set_len(written);
        }
        Ok(())
    })
}

fn corrupt(message: impl Into<String>) -> FastIoError {
    FastIoError::Corrupt(message.into())
}
