//! Typed access to request JSON, with ARM errors that name the offending property.

use serde_json::{Map, Value};

use super::error::{ArmError, ArmResult};

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A view of one JSON object, carrying its path for error messages.
#[derive(Clone, Copy)]
pub struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: &'a str,
}

impl<'a> Obj<'a> {
    pub fn new(map: &'a Map<String, Value>, path: &'a str) -> Self {
        Obj { map, path }
    }

    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key`, matched case-insensitively as ARM's JSON deserialiser does; null = absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map
            .get(key)
            .or_else(|| self.map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
            .filter(|v| !v.is_null())
    }

    pub fn str(&self, key: &str) -> ArmResult<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ArmError::wrong_type(&self.at(key), "a string")),
        }
    }

    pub fn bool(&self, key: &str) -> ArmResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ArmError::wrong_type(&self.at(key), "a boolean")),
        }
    }

    pub fn i64(&self, key: &str) -> ArmResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                n.as_i64().map(Some).ok_or_else(|| ArmError::wrong_type(&self.at(key), "an integer"))
            }
            Some(_) => Err(ArmError::wrong_type(&self.at(key), "an integer")),
        }
    }

    pub fn obj(&self, key: &str) -> ArmResult<Option<&'a Map<String, Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(ArmError::wrong_type(&self.at(key), "an object")),
        }
    }

    pub fn array(&self, key: &str) -> ArmResult<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(ArmError::wrong_type(&self.at(key), "an array")),
        }
    }

    /// An array of strings.
    pub fn strings(&self, key: &str) -> ArmResult<Option<Vec<&'a str>>> {
        let Some(items) = self.array(key)? else { return Ok(None) };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| v.as_str().ok_or_else(|| ArmError::wrong_type(&format!("{}[{i}]", self.at(key)), "a string")))
            .collect::<ArmResult<Vec<_>>>()
            .map(Some)
    }

    /// An array of objects, each with its path.
    pub fn objects(&self, key: &str) -> ArmResult<Vec<(String, &'a Map<String, Value>)>> {
        let Some(items) = self.array(key)? else { return Ok(Vec::new()) };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let path = format!("{}[{i}]", self.at(key));
                match v {
                    Value::Object(m) => Ok((path, m)),
                    _ => Err(ArmError::wrong_type(&path, "an object")),
                }
            })
            .collect()
    }

    /// `{ "id": "..." }` references: the id string.
    pub fn reference(&self, key: &str) -> ArmResult<Option<&'a str>> {
        let Some(m) = self.obj(key)? else { return Ok(None) };
        let id = m.get("id").or_else(|| m.iter().find(|(k, _)| k.eq_ignore_ascii_case("id")).map(|(_, v)| v));
        match id {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ArmError::wrong_type(&format!("{}.id", self.at(key)), "a string")),
        }
    }

    /// One of the allowed values (matched case-insensitively), returned in its canonical form.
    pub fn one_of(&self, key: &str, allowed: &[&'static str]) -> ArmResult<Option<&'static str>> {
        let Some(value) = self.str(key)? else { return Ok(None) };
        allowed.iter().find(|a| a.eq_ignore_ascii_case(value)).copied().map(Some).ok_or_else(|| {
            ArmError::invalid_at(
                "InvalidRequestFormat",
                &self.at(key),
                format!(
                    "Value '{value}' of property '{}' is invalid; allowed values are: {}.",
                    self.at(key),
                    allowed.join(", ")
                ),
            )
        })
    }
}

/// One element of an array of named children (`subnets`, `securityRules`, `ipConfigurations`, …).
pub struct Named {
    /// The element's path, e.g. `properties.subnets[1]`.
    pub path: String,
    pub name: String,
    pub properties: Map<String, Value>,
}

impl Named {
    pub fn properties(&self) -> Obj<'_> {
        Obj { map: &self.properties, path: &self.path }
    }
}

impl<'a> Obj<'a> {
    /// `key` as an array of `{name, properties}` objects: every name present, valid under
    /// `rule` and unique within the array (compared case-insensitively, as ARM compares names).
    /// `what` names the children in messages, `parent` the resource they belong to.
    pub fn named(&self, key: &str, rule: super::names::NameRule, what: &str, parent: &str) -> ArmResult<Vec<Named>> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (path, item) in self.objects(key)? {
            let element = Obj::new(item, &path);
            let name = element.str("name")?.ok_or_else(|| {
                ArmError::invalid_at(
                    "InvalidRequestFormat",
                    &path,
                    format!("Cannot parse the request: {path}.name is required."),
                )
            })?;
            rule.check(name, what)?;
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(ArmError::invalid(
                    "DuplicateResourceName",
                    format!("The {what} name {name} appears more than once in {parent}."),
                ));
            }
            let properties = element.obj("properties")?.cloned().unwrap_or_default();
            out.push(Named { path: format!("{path}.properties"), name: name.to_string(), properties });
        }
        Ok(out)
    }
}

/// Validate `tags`: an object of string values, at most 50, keys up to 512 and values up to 256 characters.
pub fn tags(body: Obj<'_>) -> ArmResult<Option<Map<String, Value>>> {
    let Some(tags) = body.obj("tags")? else { return Ok(None) };
    if tags.len() > 50 {
        return Err(ArmError::invalid("InvalidTag", "A resource can have at most 50 tags."));
    }
    for (k, v) in tags {
        let Some(value) = v.as_str() else {
            return Err(ArmError::invalid_at(
                "InvalidTag",
                &format!("tags.{k}"),
                format!("The value of tag '{k}' must be a string."),
            ));
        };
        if k.is_empty() || k.chars().count() > 512 || k.chars().any(|c| "<>%&\\?/".contains(c)) {
            return Err(ArmError::invalid(
                "InvalidTagNameCharacters",
                format!("The tag name '{k}' is invalid: use 1 to 512 characters, none of <, >, %, &, \\, ?, /."),
            ));
        }
        if value.chars().count() > 256 {
            return Err(ArmError::invalid(
                "InvalidTag",
                format!("The value of tag '{k}' is longer than 256 characters."),
            ));
        }
    }
    Ok(Some(tags.clone()))
}
