//! The `Formula` control's expression language: small, safe and decimal.
//!
//! ```text
//! expr   := term (('+' | '-') term)*
//! term   := factor (('*' | '/') factor)*
//! factor := number | '-' factor | '(' expr ')' | '{' control '}'
//!         | 'SUM' '(' '{' table '.' column '}' ')'
//! ```
//!
//! `{Money-01}` is the value of a top-level `Number`, `Money` or `Formula`
//! control; `SUM({Table-01.Number-02})` adds a `Number` or `Money` column
//! over every row of a table. An empty value counts as 0. Evaluation uses
//! [`Decimal`] arithmetic and answers an error (never a panic) on division
//! by zero or overflow. Expressions are at most [`MAX_FORMULA_CHARS`] long
//! and nest at most [`MAX_FORMULA_DEPTH`] levels, so parsing is bounded.

use super::decimal::{Decimal, DecimalError};
use super::model::ControlId;

/// Longest formula source, in characters.
pub const MAX_FORMULA_CHARS: usize = 1000;
/// Deepest nesting of parentheses and unary minus.
pub const MAX_FORMULA_DEPTH: usize = 32;

/// Why a formula's text is not an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormulaSyntaxError {
    /// Empty, too long or too deep.
    #[error(
        "formula must be 1 to {MAX_FORMULA_CHARS} characters and nest at most {MAX_FORMULA_DEPTH} levels"
    )]
    Size,
    /// Something unexpected at a character offset.
    #[error("unexpected input at character {0}")]
    Unexpected(usize),
    /// A number that is not a decimal.
    #[error("bad number at character {0}")]
    Number(usize),
    /// A reference that is not a control id.
    #[error("bad control reference at character {0}")]
    Reference(usize),
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A constant.
    Num(Decimal),
    /// A top-level control's value.
    Ref(ControlId),
    /// The sum of a table column.
    Sum {
        /// The `Table` control.
        table: ControlId,
        /// The column (a child control of the table).
        column: ControlId,
    },
    /// `-x`.
    Neg(Box<Expr>),
    /// `x op y`.
    Bin(Op, Box<Expr>, Box<Expr>),
}

/// What a formula refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand<'a> {
    /// A top-level control.
    Control(&'a ControlId),
    /// A table column.
    Column {
        /// The table.
        table: &'a ControlId,
        /// The column.
        column: &'a ControlId,
    },
}

impl Expr {
    /// Parses formula text.
    pub fn parse(src: &str) -> Result<Expr, FormulaSyntaxError> {
        if src.trim().is_empty() || src.chars().count() > MAX_FORMULA_CHARS {
            return Err(FormulaSyntaxError::Size);
        }
        let mut p = Parser {
            chars: src.chars().collect(),
            pos: 0,
            depth: 0,
        };
        let e = p.expr()?;
        p.skip_ws();
        if p.pos != p.chars.len() {
            return Err(FormulaSyntaxError::Unexpected(p.pos));
        }
        Ok(e)
    }

    /// Every control and column the expression reads, in order.
    pub fn operands(&self) -> Vec<Operand<'_>> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<Operand<'a>>) {
        match self {
            Expr::Num(_) => {}
            Expr::Ref(id) => out.push(Operand::Control(id)),
            Expr::Sum { table, column } => out.push(Operand::Column { table, column }),
            Expr::Neg(e) => e.collect(out),
            Expr::Bin(_, a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }

    /// Evaluates with `value` giving each operand's value (0 when empty).
    pub fn eval(
        &self,
        value: &dyn Fn(Operand<'_>) -> Result<Decimal, DecimalError>,
    ) -> Result<Decimal, DecimalError> {
        match self {
            Expr::Num(n) => Ok(*n),
            Expr::Ref(id) => value(Operand::Control(id)),
            Expr::Sum { table, column } => value(Operand::Column { table, column }),
            Expr::Neg(e) => Ok(-e.eval(value)?),
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(value)?, b.eval(value)?);
                match op {
                    Op::Add => a.checked_add(b),
                    Op::Sub => a.checked_sub(b),
                    Op::Mul => a.checked_mul(b),
                    Op::Div => a.checked_div(b),
                }
            }
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }

    fn expect(&mut self, c: char) -> Result<(), FormulaSyntaxError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(FormulaSyntaxError::Unexpected(self.pos))
        }
    }

    fn expr(&mut self) -> Result<Expr, FormulaSyntaxError> {
        let mut left = self.term()?;
        while let Some(c @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let op = if c == '+' { Op::Add } else { Op::Sub };
            left = Expr::Bin(op, Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, FormulaSyntaxError> {
        let mut left = self.factor()?;
        while let Some(c @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            let op = if c == '*' { Op::Mul } else { Op::Div };
            left = Expr::Bin(op, Box::new(left), Box::new(self.factor()?));
        }
        Ok(left)
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, FormulaSyntaxError>,
    ) -> Result<T, FormulaSyntaxError> {
        self.depth += 1;
        if self.depth > MAX_FORMULA_DEPTH {
            return Err(FormulaSyntaxError::Size);
        }
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn factor(&mut self) -> Result<Expr, FormulaSyntaxError> {
        match self.peek() {
            Some('-') => {
                self.pos += 1;
                self.nested(|p| Ok(Expr::Neg(Box::new(p.factor()?))))
            }
            Some('(') => {
                self.pos += 1;
                let e = self.nested(Self::expr)?;
                self.expect(')')?;
                Ok(e)
            }
            Some('{') => Ok(Expr::Ref(self.reference()?)),
            Some(c) if c.is_ascii_digit() => self.number(),
            Some('S' | 's') => self.sum(),
            _ => Err(FormulaSyntaxError::Unexpected(self.pos)),
        }
    }

    fn number(&mut self) -> Result<Expr, FormulaSyntaxError> {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || *c == '.')
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        text.parse()
            .map(Expr::Num)
            .map_err(|_| FormulaSyntaxError::Number(start))
    }

    /// `{id}` → the id's text.
    fn braced(&mut self) -> Result<(usize, String), FormulaSyntaxError> {
        self.expect('{')?;
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| *c != '}') {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        self.expect('}')?;
        Ok((start, text))
    }

    fn reference(&mut self) -> Result<ControlId, FormulaSyntaxError> {
        let (start, text) = self.braced()?;
        ControlId::parse(text.trim()).map_err(|_| FormulaSyntaxError::Reference(start))
    }

    fn sum(&mut self) -> Result<Expr, FormulaSyntaxError> {
        let start = self.pos;
        let word: String = self.chars[self.pos..].iter().take(3).collect();
        if !word.eq_ignore_ascii_case("SUM") {
            return Err(FormulaSyntaxError::Unexpected(start));
        }
        self.pos += 3;
        self.expect('(')?;
        let (at, text) = self.braced()?;
        self.expect(')')?;
        let (table, column) = text
            .split_once('.')
            .ok_or(FormulaSyntaxError::Reference(at))?;
        let parse =
            |t: &str| ControlId::parse(t.trim()).map_err(|_| FormulaSyntaxError::Reference(at));
        Ok(Expr::Sum {
            table: parse(table)?,
            column: parse(column)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn eval_with(src: &str, vals: &[(&str, &str)]) -> Result<Decimal, DecimalError> {
        let e = Expr::parse(src).unwrap();
        e.eval(&|op| {
            let key = match op {
                Operand::Control(id) => id.as_str().to_string(),
                Operand::Column { table, column } => format!("{table}.{column}"),
            };
            Ok(vals
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(Decimal::ZERO, |(_, v)| v.parse().unwrap()))
        })
    }

    #[rstest]
    #[case("1 + 2 * 3", "7")]
    #[case("(1 + 2) * 3", "9")]
    #[case("-{Number-01} + 10", "7.5")]
    #[case("{Number-01} * {Money-01}", "30")]
    #[case("SUM({Table-01.Money-02}) / 2", "50.25")]
    #[case("{Missing-01} + 1", "1")]
    #[case("10 - 2 - 3", "5")]
    #[case("8 / 2 / 2", "2")]
    fn evaluates(#[case] src: &str, #[case] expected: &str) {
        let vals = [
            ("Number-01", "2.5"),
            ("Money-01", "12"),
            ("Table-01.Money-02", "100.5"),
        ];
        assert_eq!(
            eval_with(src, &vals).unwrap(),
            expected.parse::<Decimal>().unwrap()
        );
    }

    #[test]
    fn division_by_zero_is_an_error() {
        assert_eq!(
            eval_with("{Number-01} / {Number-02}", &[("Number-01", "1")]),
            Err(DecimalError::DivisionByZero)
        );
    }

    #[rstest]
    #[case("")]
    #[case("1 +")]
    #[case("(1")]
    #[case("{}")]
    #[case("{bad id}")]
    #[case("SUM({Table-01})")]
    #[case("SUMX({a.b})")]
    #[case("1 2")]
    #[case("1..2")]
    #[case("pow(2)")]
    fn refuses(#[case] src: &str) {
        assert!(Expr::parse(src).is_err(), "{src}");
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(40), ")".repeat(40));
        assert_eq!(Expr::parse(&deep), Err(FormulaSyntaxError::Size));
        let negs = format!("{}1", "-".repeat(40));
        assert_eq!(Expr::parse(&negs), Err(FormulaSyntaxError::Size));
    }

    #[test]
    fn lists_operands() {
        let e = Expr::parse("{A-1} + SUM({T-1.B-2}) * {A-1}").unwrap();
        assert_eq!(e.operands().len(), 3);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "[-+*/(){}0-9a-zA-Z. ]{0,60}") {
            if let Ok(e) = Expr::parse(&s) {
                let r = e.eval(&|_| Ok(Decimal::ONE));
                prop_assert!(matches!(r, Ok(_) | Err(DecimalError::DivisionByZero | DecimalError::OutOfRange)));
            }
        }
    }
}
