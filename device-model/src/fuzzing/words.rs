//! A counter struct's values as plain words, without building JSON: the
//! fuzzing harnesses compare every counter after every step, and going through
//! `serde_json::Value` (a map of strings per step) was most of a whole-device
//! fuzz run's time. Field names are only worked out when a check fails.

use serde::ser::{self, Serialize};

/// Every integer (and bool) in `value`, in serialisation order; strings and
/// floats are skipped. A struct of counters becomes its counters in field order.
pub fn words(value: &impl Serialize, out: &mut Vec<u64>) {
    out.clear();
    let _ = value.serialize(&mut Words {
        out,
        names: None,
        path: Vec::new(),
        key: None,
    });
}

/// The names of `value`'s counters (`rx.csum_good`, `rx_queue_packets.3`), in
/// the order [`words`] gives their values.
pub fn names(value: &impl Serialize) -> Vec<String> {
    let mut out = Vec::new();
    let mut names = Vec::new();
    let mut w = Words {
        out: &mut out,
        names: Some(&mut names),
        path: Vec::new(),
        key: None,
    };
    let _ = value.serialize(&mut w);
    names
}

/// One step of the path to a value: a field, or a position in a sequence.
enum Seg {
    Field(&'static str),
    Key(String),
    Index(usize),
}

struct Words<'a> {
    out: &'a mut Vec<u64>,
    /// Only when names are asked for: the path to each value, joined.
    names: Option<&'a mut Vec<String>>,
    path: Vec<Seg>,
    /// A map's key, waiting for its value (flattened structs serialise as maps).
    key: Option<String>,
}

impl Words<'_> {
    #[inline]
    fn push(&mut self, v: u64) {
        self.out.push(v);
        if let Some(n) = self.names.as_mut() {
            Self::name(&self.path, n);
        }
    }

    #[cold]
    fn name(path: &[Seg], n: &mut Vec<String>) {
        {
            let name: Vec<String> = path
                .iter()
                .map(|s| match s {
                    Seg::Field(f) => f.to_string(),
                    Seg::Key(k) => k.clone(),
                    Seg::Index(i) => i.to_string(),
                })
                .collect();
            n.push(name.join("."));
        }
    }

    #[inline]
    fn within<T: ?Sized + Serialize>(&mut self, seg: Seg, v: &T) -> R {
        if self.names.is_some() {
            self.path.push(seg);
            let r = v.serialize(&mut *self);
            self.path.pop();
            r
        } else {
            v.serialize(self)
        }
    }
}

#[derive(Debug)]
struct Never;

impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unsupported")
    }
}
impl std::error::Error for Never {}
impl ser::Error for Never {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Never
    }
}

type R = Result<(), Never>;

macro_rules! ints {
    ($($f:ident: $t:ty),*) => {
        $(fn $f(self, v: $t) -> R { self.push(v as u64); Ok(()) })*
    };
}

/// A compound value starts: its parts come through the same collector.
macro_rules! starts {
    ($($f:ident($($a:ident: $t:ty),*)),*) => {
        $(fn $f(self, $($a: $t),*) -> Result<Self, Never> {
            Ok(self)
        })*
    };
}

impl<'a> ser::Serializer for &mut Words<'a> {
    type Ok = ();
    type Error = Never;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    ints!(serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
          serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64);

    fn serialize_bool(self, v: bool) -> R {
        self.push(u64::from(v));
        Ok(())
    }
    fn serialize_f32(self, _v: f32) -> R {
        Ok(())
    }
    fn serialize_f64(self, _v: f64) -> R {
        Ok(())
    }
    fn serialize_char(self, _v: char) -> R {
        Ok(())
    }
    fn serialize_str(self, _v: &str) -> R {
        Ok(())
    }
    fn serialize_bytes(self, _v: &[u8]) -> R {
        Ok(())
    }
    fn serialize_none(self) -> R {
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_unit(self) -> R {
        Ok(())
    }
    fn serialize_unit_struct(self, _n: &'static str) -> R {
        Ok(())
    }
    fn serialize_unit_variant(self, _n: &'static str, _i: u32, _v: &'static str) -> R {
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _n: &'static str, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _n: &'static str,
        _i: u32,
        _variant: &'static str,
        v: &T,
    ) -> R {
        v.serialize(self)
    }
    starts!(
        serialize_seq(_len: Option<usize>),
        serialize_tuple(_len: usize),
        serialize_tuple_struct(_n: &'static str, _len: usize),
        serialize_tuple_variant(_n: &'static str, _i: u32, _v: &'static str, _len: usize),
        serialize_map(_len: Option<usize>),
        serialize_struct(_n: &'static str, _len: usize),
        serialize_struct_variant(_n: &'static str, _i: u32, _v: &'static str, _len: usize)
    );
}

macro_rules! compound {
    ($($tr:ident :: $m:ident),*) => {
        $(impl<'a> ser::$tr for &mut Words<'a> {
            type Ok = ();
            type Error = Never;
            fn $m<T: ?Sized + Serialize>(&mut self, v: &T) -> R {
                // Positions only matter for names; the value count is as good an index as any.
                let at = self.out.len();
                self.within(Seg::Index(at), v)
            }
            fn end(self) -> R {
                Ok(())
            }
        })*
    };
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl<'a> ser::SerializeMap for &mut Words<'a> {
    type Ok = ();
    type Error = Never;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> R {
        if self.names.is_some() {
            let key = serde_json::to_string(k).unwrap_or_default();
            self.key = Some(key.trim_matches('"').to_string());
        }
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> R {
        let seg = match self.key.take() {
            Some(k) => Seg::Key(k),
            None => Seg::Index(self.out.len()),
        };
        self.within(seg, v)
    }
    fn end(self) -> R {
        Ok(())
    }
}

/// Structs and struct variants: each field's value, under its name.
macro_rules! fields {
    ($($tr:ident),*) => {
        $(impl<'a> ser::$tr for &mut Words<'a> {
            type Ok = ();
            type Error = Never;
            fn serialize_field<T: ?Sized + Serialize>(&mut self, k: &'static str, v: &T) -> R {
                self.within(Seg::Field(k), v)
            }
            fn end(self) -> R {
                Ok(())
            }
        })*
    };
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Inner {
        b: u64,
        c: Vec<u64>,
    }

    #[derive(serde::Serialize)]
    struct Outer {
        a: u64,
        #[serde(flatten)]
        inner: Inner,
        d: u32,
    }

    #[test]
    fn words_follow_the_fields_in_order() {
        let v = Outer {
            a: 1,
            inner: Inner {
                b: 2,
                c: vec![3, 4],
            },
            d: 5,
        };
        let mut w = Vec::new();
        words(&v, &mut w);
        assert_eq!(w, vec![1, 2, 3, 4, 5]);
        assert_eq!(names(&v), ["a", "b", "c.2", "c.3", "d"]);
    }

    #[test]
    fn every_personality_counter_is_a_word() {
        let igb = crate::igb::Counters::default();
        let mut w = Vec::new();
        words(&igb, &mut w);
        let json = serde_json::to_value(&igb).unwrap();
        assert_eq!(w.len(), json.as_object().unwrap().len());
    }
}
