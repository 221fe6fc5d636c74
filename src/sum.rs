//! Compensated (Neumaier) summation, so that cost totals do not depend on read order beyond the
//! last bit, and millions of small line items add up to the bill.

/// A running sum with its compensation term.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sum {
    sum: f64,
    comp: f64,
}

impl Sum {
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    pub fn merge(&mut self, other: &Sum) {
        self.add(other.sum);
        self.add(other.comp);
    }

    pub fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

impl FromIterator<f64> for Sum {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut s = Sum::default();
        for x in iter {
            s.add(x);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_where_naive_summation_drifts() {
        let xs = [1e16, 1.0, -1e16, 1.0];
        assert_eq!(xs.iter().copied().collect::<Sum>().value(), 2.0);
        let cents: Sum = std::iter::repeat_n(0.01, 1_000_000).collect();
        assert_eq!(cents.value(), 10_000.0);
    }

    #[test]
    fn order_independent() {
        let xs: Vec<f64> = (0..10_000)
            .map(|i| ((i * 7919) % 1000) as f64 * 0.0137 - 3.3)
            .collect();
        let fwd: Sum = xs.iter().copied().collect();
        let rev: Sum = xs.iter().rev().copied().collect();
        assert_eq!(fwd.value(), rev.value());
        let (a, b) = xs.split_at(3333);
        let mut m: Sum = b.iter().copied().collect();
        m.merge(&a.iter().copied().collect());
        assert_eq!(m.value(), fwd.value());
    }
}
