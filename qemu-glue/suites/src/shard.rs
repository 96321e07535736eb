//! `--shard K/N`: a stable share of a run's work, so that N CI runners with the
//! same options run every unit exactly once between them (`tunic report merge`
//! joins their reports).

/// The Kth of N shards (1-based, as users count them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl Shard {
    /// Whether unit `index` (0-based, in the run's stable order) is this shard's:
    /// every Nth unit from the Kth.
    pub fn takes(&self, index: usize) -> bool {
        index % self.n == self.k - 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Parses `K/N` with 1 <= K <= N (a clap value parser).
pub fn parse(s: &str) -> Result<Shard, String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}' is not K/N (for example 1/4)"))?;
    let number = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{t}' is not a number"))
    };
    let (k, n) = (number(k)?, number(n)?);
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: K must be between 1 and N"));
    }
    Ok(Shard { k, n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(parse("2/3"), Ok(Shard { k: 2, n: 3 }));
        assert_eq!(parse(" 1 / 1 ").map(|s| s.to_string()), Ok("1/1".into()));
        for bad in ["0/3", "4/3", "1/0", "x", "1/x", "-1/2", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_shards_of_n_take_every_unit_once() {
        for n in 1..6 {
            for unit in 0..20 {
                let owners = (1..=n).filter(|&k| Shard { k, n }.takes(unit)).count();
                assert_eq!(owners, 1, "unit {unit} of {n} shards");
            }
        }
    }
}
