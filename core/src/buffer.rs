//! The output queue: bytes waiting to be written, with optional frame boundaries.

use std::collections::VecDeque;

use crate::framing::wrap;

/// Consumed bytes are moved out of the way only once at least this many have piled up and
/// they are at least half the buffer: each byte is then moved at most once on average, and
/// small writes never trigger a copy.
const COMPACT_AFTER: usize = 4096;

/// A FIFO of bytes that hands out its unwritten part as one contiguous slice, so a driver
/// writes straight from it. Bounded by its owner: a [`Connection`](crate::Connection)
/// appends only while the queue is below its high watermark.
#[derive(Debug, Default)]
pub(crate) struct OutputQueue {
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    head: usize,
    /// Stream offsets (counted from the first byte ever queued) where frames end; `None`
    /// unless frame recording is on (boxed: only a view asks for it, and every idle
    /// connection would pay for the room: 8 bytes instead of 32).
    #[allow(clippy::box_collection)]
    marks: Option<Box<VecDeque<u64>>>,
    /// Stream offset of `buf[head]`.
    written: u64,
}

impl OutputQueue {
    pub(crate) fn new(record_frames: bool) -> Self {
        OutputQueue {
            marks: record_frames.then(Box::default),
            ..Self::default()
        }
    }

    /// Bytes queued and not yet written.
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends one echoed frame, wrapped (see [`wrap`]), and marks its end. Returns its
    /// length.
    pub(crate) fn push_frame(
        &mut self,
        prefix: &[u8],
        content: &[u8],
        suffix: &[u8],
        end: &[u8],
    ) -> usize {
        let before = self.buf.len();
        wrap(&mut self.buf, prefix, content, suffix, end);
        self.end_frame();
        self.buf.len() - before
    }

    /// Bytes the queue can hold without allocating.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives the allocation back when nothing is queued.
    pub(crate) fn trim(&mut self) {
        if self.is_empty() {
            self.buf = Vec::new();
            self.head = 0;
        }
    }

    /// Marks the end of a frame at the current tail (when recording).
    pub(crate) fn end_frame(&mut self) {
        let end = self.written + self.len() as u64;
        if let Some(marks) = &mut self.marks {
            marks.push_back(end);
        }
    }

    /// Appends a whole block as one frame; takes the block's allocation when the queue is
    /// empty instead of copying it.
    pub(crate) fn append_block(&mut self, block: &mut Vec<u8>) {
        if self.is_empty() {
            self.head = 0;
            core::mem::swap(&mut self.buf, block);
            block.clear();
        } else {
            self.buf.append(block);
        }
        self.end_frame();
    }

    /// Drops the first `n` queued bytes (they were written). `n` is clamped to the length.
    pub(crate) fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len());
        self.head += n;
        self.written += n as u64;
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        } else if self.head >= COMPACT_AFTER && self.head * 2 >= self.buf.len() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        if let Some(marks) = &mut self.marks {
            while marks.front().is_some_and(|&end| end <= self.written) {
                marks.pop_front();
            }
        }
        n
    }

    /// Drops everything queued, as a connection that fails does.
    pub(crate) fn clear(&mut self) {
        let n = self.len();
        self.consume(n);
        self.buf = Vec::new();
    }

    /// Frame end offsets relative to the first unwritten byte.
    pub(crate) fn frame_ends(&self) -> Vec<usize> {
        self.marks
            .iter()
            .flat_map(|marks| marks.iter())
            .map(|&end| (end - self.written) as usize)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_consumes_keep_the_rest_in_order_across_compaction() {
        let mut q = OutputQueue::new(true);
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        for chunk in data.chunks(1000) {
            q.extend(chunk);
            q.end_frame();
        }
        let mut out = Vec::new();
        while !q.is_empty() {
            let n = q.len().min(3001);
            out.extend_from_slice(&q.as_slice()[..n]);
            q.consume(n);
            assert!(q.frame_ends().iter().all(|&e| e > 0 && e <= q.len()));
        }
        assert_eq!(out, data);
        assert!(q.frame_ends().is_empty());
    }

    #[test]
    fn a_block_moves_into_an_empty_queue_without_copying() {
        let mut q = OutputQueue::new(false);
        let mut block = b"abc".to_vec();
        let ptr = block.as_ptr();
        q.append_block(&mut block);
        assert_eq!(q.as_slice().as_ptr(), ptr);
        assert!(block.is_empty());
    }
}
