//! A combinational and-inverter graph in the AIGER format: read from Yosys's ASCII
//! output (`write_aiger -ascii`), written back in binary for ABC with some inputs
//! tied to constants. `smtgen prove` builds one miter per design this way and
//! derives its activity cases by constant inputs, instead of flattening one miter
//! per case in Yosys.

use crate::error::{Error, Result};

/// A combinational AIG: inputs are variables `1..=inputs`, and-gates follow in
/// topological order (AIGER literals: `2·var`, `+1` for the complement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aig {
    /// Number of inputs.
    pub inputs: u32,
    /// And-gates as (output literal, input literal, input literal).
    pub ands: Vec<(u32, u32, u32)>,
    /// Output literals.
    pub outputs: Vec<u32>,
}

impl Aig {
    /// Parses ASCII AIGER (`aag`) without latches, as `write_aiger -ascii` writes it.
    pub fn parse_ascii(text: &str) -> Result<Aig> {
        let bad = |what: &str| Error::tool("aiger", format!("cannot read the miter's AIG: {what}"));
        let mut lines = text.lines();
        let head: Vec<u32> = lines
            .next()
            .ok_or_else(|| bad("empty file"))?
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse::<u32>().map_err(|_| bad("header")))
            .collect::<Result<_>>()?;
        let [_, i, l, o, a] = head[..] else {
            return Err(bad("header"));
        };
        if l != 0 {
            return Err(bad("latches in a combinational miter"));
        }
        let mut nums = |n: usize| -> Result<Vec<u32>> {
            let line = lines.next().ok_or_else(|| bad("truncated"))?;
            let v: Vec<u32> = line
                .split_whitespace()
                .map(|f| f.parse::<u32>().map_err(|_| bad(line)))
                .collect::<Result<_>>()?;
            if v.len() != n {
                return Err(bad(line));
            }
            Ok(v)
        };
        for k in 0..i {
            if nums(1)?[0] != 2 * (k + 1) {
                return Err(bad("inputs out of order"));
            }
        }
        let outputs = (0..o)
            .map(|_| Ok(nums(1)?[0]))
            .collect::<Result<Vec<u32>>>()?;
        let mut ands = Vec::with_capacity(a as usize);
        for k in 0..a {
            let v = nums(3)?;
            if v[0] != 2 * (i + 1 + k) {
                return Err(bad("and-gates out of order"));
            }
            ands.push((v[0], v[1], v[2]));
        }
        Ok(Aig {
            inputs: i,
            ands,
            outputs,
        })
    }

    /// Binary AIGER with the given inputs (0-based index, value) tied to constants;
    /// the inputs stay declared, ABC's `strash` folds the constants.
    pub fn binary_with_constants(&self, consts: &[(u32, bool)]) -> Vec<u8> {
        let mut tie = vec![None; self.inputs as usize + 1];
        for &(i, v) in consts {
            if let Some(slot) = tie.get_mut(i as usize + 1) {
                *slot = Some(v);
            }
        }
        let map = |lit: u32| -> u32 {
            match tie.get((lit / 2) as usize).copied().flatten() {
                Some(v) => u32::from(v) ^ (lit & 1),
                None => lit,
            }
        };
        let m = self.inputs + self.ands.len() as u32;
        let mut out = format!(
            "aig {m} {} 0 {} {}\n",
            self.inputs,
            self.outputs.len(),
            self.ands.len()
        )
        .into_bytes();
        for &o in &self.outputs {
            out.extend_from_slice(format!("{}\n", map(o)).as_bytes());
        }
        let varint = |mut x: u32, out: &mut Vec<u8>| {
            while x >= 0x80 {
                out.push((x & 0x7f) as u8 | 0x80);
                x >>= 7;
            }
            out.push(x as u8);
        };
        for &(lhs, r0, r1) in &self.ands {
            let (a, b) = (map(r0), map(r1));
            let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
            varint(lhs - hi, &mut out);
            varint(hi - lo, &mut out);
        }
        out
    }
}

/// Reads Yosys's `write_aiger -map` file: the input index of `name[bit]`.
pub fn input_index(map: &str, name: &str, bit: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f[..] {
            ["input", idx, b, n] if n == name && b.parse::<u32>().ok() == Some(bit) => {
                idx.parse().ok()
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // out = AND(i1, NOT i2)
    const AAG: &str = "aag 3 2 0 1 1\n2\n4\n6\n6 2 5\n";

    #[test]
    fn reads_and_writes_binary_with_deltas() {
        let g = Aig::parse_ascii(AAG).unwrap();
        assert_eq!(g.ands, vec![(6, 2, 5)]);
        let b = g.binary_with_constants(&[]);
        // header, output 6, then deltas 6-5=1 and 5-2=3
        assert_eq!(b, b"aig 3 2 0 1 1\n6\n\x01\x03".to_vec());
    }

    #[test]
    fn constants_replace_input_literals() {
        let g = Aig::parse_ascii(AAG).unwrap();
        // i2 = 1: NOT i2 = literal 0; gate (6, 2, 0): deltas 4 and 2.
        let b = g.binary_with_constants(&[(1, true)]);
        assert_eq!(b, b"aig 3 2 0 1 1\n6\n\x04\x02".to_vec());
    }

    #[test]
    fn rejects_latches_and_disorder() {
        assert!(Aig::parse_ascii("aag 1 0 1 0 0\n2 3\n").is_err());
        assert!(Aig::parse_ascii("aag 3 2 0 1 1\n2\n4\n6\n8 2 5\n").is_err());
    }

    #[test]
    fn finds_inputs_in_the_map() {
        let m = "input 0 0 act_i\ninput 64 0 on_i\ninput 65 1 on_i\noutput 0 0 trigger_o\n";
        assert_eq!(input_index(m, "on_i", 1), Some(65));
        assert_eq!(input_index(m, "on_i", 2), None);
    }
}
