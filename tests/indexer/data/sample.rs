use std::collections::HashMap;
use crate::util::{helper, Other as O};

/// The maximum.
pub const MAX: usize = 10;
static NAME: &str = "x";

/// A point.
pub struct Point {
    x: i32,
}

pub enum Dir { Up, Down }

pub trait Shape {
    fn area(&self) -> f64;
}

impl Point {
    /// Makes a point.
    pub fn new(x: i32) -> Self {
        Point { x }
    }
}

fn main() {
    let m: HashMap<i32, i32> = HashMap::new();
    helper(m);
}

mod inner {
    pub fn nested() {}
}

type Alias = Point;
macro_rules! my_macro { () => {} }
