//! The X710's BAR0 register words: 8 MiB of address space of which a driver
//! touches a few thousand words. A reset must bring every word back to zero
//! before the reset values are written; zeroing 8 MiB per reset (or allocating a
//! fresh zeroed 8 MiB, which the allocator serves from reused, dirty memory after
//! the first free and must clear) made each PF reset cost milliseconds. So the
//! file remembers which words it made non-zero and clears only those.

/// Words remembered at most; past it a reset clears the whole file.
const MAX_TOUCHED: usize = 1 << 16;

pub struct RegisterFile {
    words: Box<[u32]>,
    /// Indices of words set non-zero since the last clear (a word may appear twice).
    touched: Vec<u32>,
    /// More words were touched than `touched` holds: clear everything.
    overflowed: bool,
}

impl RegisterFile {
    pub fn new(words: usize) -> Self {
        Self {
            words: vec![0u32; words].into_boxed_slice(),
            touched: Vec::new(),
            overflowed: false,
        }
    }

    /// The word at `index`; 0 past the end.
    pub fn get(&self, index: usize) -> u32 {
        self.words.get(index).copied().unwrap_or(0)
    }

    /// Stores `v` at `index`; a write past the end is ignored.
    pub fn set(&mut self, index: usize, v: u32) {
        let Some(w) = self.words.get_mut(index) else {
            return;
        };
        if *w == 0 && v != 0 && !self.overflowed {
            if self.touched.len() < MAX_TOUCHED {
                self.touched.push(index as u32);
            } else {
                self.overflowed = true;
            }
        }
        *w = v;
    }

    /// Every word back to zero.
    pub fn clear(&mut self) {
        if self.overflowed {
            self.words.fill(0);
        } else {
            for &i in &self.touched {
                self.words[i as usize] = 0;
            }
        }
        self.touched.clear();
        self.overflowed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_zeroes_every_word_written_however_many() {
        for writes in [0usize, 10, MAX_TOUCHED + 10] {
            let mut f = RegisterFile::new(MAX_TOUCHED * 2);
            for i in 0..writes {
                f.set((i * 7919) % (MAX_TOUCHED * 2), i as u32 | 1);
            }
            // A word written, zeroed and written again.
            f.set(3, 1);
            f.set(3, 0);
            f.set(3, 5);
            f.set(usize::MAX, 1);
            f.clear();
            assert!(f.words.iter().all(|&w| w == 0), "after {writes} writes");
            assert_eq!(f.get(usize::MAX), 0);
        }
    }
}
