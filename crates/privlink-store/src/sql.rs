//! The small SQL executor both backends implement. Statements are written once, with `$N`
//! placeholders (PostgreSQL's form); the SQLite backend rewrites them to `?N`.

use crate::Result;

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Int(i64),
    Text(&'a str),
    Null,
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(s: &'a str) -> Self {
        Param::Text(s)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(s: &'a String) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param<'_> {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(Param::Null, Param::Text)
    }
}

/// A column value read back.
#[derive(Debug, Clone)]
pub enum Val {
    Int(i64),
    Text(String),
    Null,
}

impl Val {
    pub fn int(&self) -> Result<i64> {
        match self {
            Val::Int(i) => Ok(*i),
            other => Err(crate::StoreError::Corrupt(format!("expected integer, found {other:?}"))),
        }
    }

    pub fn text(self) -> Result<String> {
        match self {
            Val::Text(s) => Ok(s),
            other => Err(crate::StoreError::Corrupt(format!("expected text, found {other:?}"))),
        }
    }

    pub fn opt_text(self) -> Result<Option<String>> {
        match self {
            Val::Null => Ok(None),
            other => other.text().map(Some),
        }
    }
}

pub type Row = Vec<Val>;

pub trait Sql {
    fn exec(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<u64>;
    fn query(&mut self, sql: &'static str, params: &[Param<'_>]) -> Result<Vec<Row>>;
}
