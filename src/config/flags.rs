//! `[[feature_flags]]` and `[[organizations]]` of `kinde.toml`, checked before any request: keys
//! and external ids once each, values typed to their flag, overrides only where the flag allows.

use std::collections::BTreeMap;

use serde::Serialize;
use toml::Spanned;

use super::file::{self, File, FlagKind, OverrideLevel};
use crate::error::Error;

/// A feature flag as `kinde.toml` declares it, its values in Kinde's text form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureFlag {
    /// Key.
    pub key: String,
    /// Display name (the key when not given).
    pub name: String,
    /// Description (empty when not given).
    pub description: String,
    /// Value type.
    pub kind: FlagKind,
    /// Default value as Kinde writes it: `true`, `42`, `text`.
    pub default: String,
    /// The most specific level allowed to override it.
    pub override_level: OverrideLevel,
}

/// An organization `kinde.toml` owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    /// The handle it is matched by.
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Flag key to override value, as Kinde writes it.
    pub feature_flags: BTreeMap<String, String>,
    /// Flag key to where its override is written (`kinde.toml:LINE:COLUMN`).
    pub sites: BTreeMap<String, String>,
}

/// `value` as Kinde's text for a flag of type `kind`, or why it is not one.
pub fn flag_value(kind: FlagKind, value: &toml::Value) -> Result<String, String> {
    match (kind, value) {
        (FlagKind::Boolean, toml::Value::Boolean(b)) => Ok(b.to_string()),
        (FlagKind::String, toml::Value::String(s)) => Ok(s.clone()),
        (FlagKind::Integer, toml::Value::Integer(n)) => i32::try_from(*n)
            .map(|n| n.to_string())
            .map_err(|_| format!("is {n}, outside Kinde's integer flags (32-bit signed)")),
        (kind, other) => Err(format!(
            "is {} {}, but the flag's `type` is {}",
            article(other.type_str()),
            other.type_str(),
            FlagKind::name_of(kind.code())
        )),
    }
}

/// How to write a value of a flag of type `kind`.
fn value_hint(kind: FlagKind) -> &'static str {
    match kind {
        FlagKind::Boolean => "a boolean flag's value is true or false, unquoted",
        FlagKind::String => "a string flag's value is quoted: \"dark\"",
        FlagKind::Integer => {
            "an integer flag's value is a whole number from -2147483648 to 2147483647, unquoted"
        }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The flags of `sections`, or a file:line error for the first that cannot be sent.
pub fn flags_at(
    file: &File,
    sections: &[Spanned<file::FeatureFlagSection>],
) -> Result<Vec<FeatureFlag>, Error> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut flags = Vec::new();
    for section in sections {
        let flag = section.get_ref();
        let key = flag.key.get_ref();
        if key.trim().is_empty() || key.chars().any(char::is_whitespace) {
            return Err(Error::input(file.error_at(
                flag.key.span(),
                "a feature flag `key` must be non-empty and without spaces",
            )));
        }
        if let Some(first) = seen.insert(key, flag.key.span().start) {
            let (line, _) = file.line_col(first);
            return Err(Error::input(file.error_at(
                flag.key.span(),
                &format!("feature flag `{key}` is declared twice (first on line {line})"),
            ))
            .with_hint("a flag key names one flag: remove or rename one of them"));
        }
        let kind = *flag.kind.get_ref();
        let default = flag_value(kind, flag.default.get_ref()).map_err(|why| {
            Error::input(file.error_at(
                flag.default.span(),
                &format!("`default` of feature flag `{key}` {why}"),
            ))
            .with_hint(value_hint(kind))
        })?;
        flags.push(FeatureFlag {
            key: key.clone(),
            name: flag
                .name
                .as_ref()
                .map_or_else(|| key.clone(), |n| n.get_ref().clone()),
            description: flag.description.clone().unwrap_or_default(),
            kind,
            default,
            override_level: flag
                .override_level
                .as_ref()
                .map_or(OverrideLevel::User, |l| *l.get_ref()),
        });
    }
    Ok(flags)
}

/// The organizations of `sections`, their overrides typed by `flags` where the flag is declared
/// (an undeclared flag is the tenant's, checked when planning), or a file:line error.
pub fn organizations_at(
    file: &File,
    sections: &[Spanned<file::OrganizationSection>],
    flags: &[FeatureFlag],
) -> Result<Vec<Organization>, Error> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut orgs = Vec::new();
    for section in sections {
        let org = section.get_ref();
        let id = org.external_id.get_ref();
        if id.trim().is_empty() {
            return Err(Error::input(file.error_at(
                org.external_id.span(),
                "`external_id` of an organization must not be empty",
            )));
        }
        if org.name.get_ref().trim().is_empty() {
            return Err(Error::input(file.error_at(
                org.name.span(),
                &format!("organization `{id}` needs a non-empty `name`"),
            )));
        }
        if let Some(first) = seen.insert(id, org.external_id.span().start) {
            let (line, _) = file.line_col(first);
            return Err(Error::input(file.error_at(
                org.external_id.span(),
                &format!("organization `{id}` is declared twice (first on line {line})"),
            ))
            .with_hint(
                "`external_id` is how register finds the organization again: give each one its own",
            ));
        }
        let mut overrides = BTreeMap::new();
        let mut sites = BTreeMap::new();
        for (key, value) in &org.feature_flags {
            let (line, column) = file.line_col(value.span().start);
            sites.insert(
                key.clone(),
                format!("{}:{line}:{column}", file.path.display()),
            );
            let at = |message: String| Error::input(file.error_at(value.span(), &message));
            let text = match flags.iter().find(|f| &f.key == key) {
                Some(flag) => {
                    if flag.override_level == OverrideLevel::Environment {
                        return Err(at(format!(
                            "feature flag `{key}` has override_level = \"environment\", so organization `{id}` cannot override it"
                        ))
                        .with_hint("remove the override, or create the flag anew with override_level = \"organization\" or \"user\" (the level cannot change in Kinde)"));
                    }
                    flag_value(flag.kind, value.get_ref()).map_err(|why| {
                        at(format!(
                            "organization `{id}`'s value for feature flag `{key}` {why}"
                        ))
                        .with_hint(value_hint(flag.kind))
                    })?
                }
                None => match value.get_ref() {
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Integer(n) => n.to_string(),
                    toml::Value::String(s) => s.clone(),
                    other => {
                        return Err(at(format!(
                            "organization `{id}`'s value for feature flag `{key}` is {} {}; flags hold a boolean, an integer or a string",
                            article(other.type_str()),
                            other.type_str()
                        ))
                        .with_hint("write the value as true or false, a whole number, or a quoted string"));
                    }
                },
            };
            overrides.insert(key.clone(), text);
        }
        orgs.push(Organization {
            external_id: id.clone(),
            name: org.name.get_ref().clone(),
            feature_flags: overrides,
            sites,
        });
    }
    Ok(orgs)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn load(text: &str) -> Result<(Vec<FeatureFlag>, Vec<Organization>), Error> {
        let file = File::parse(Path::new("kinde.toml"), text.into())?;
        let flags = flags_at(&file, file.layer.feature_flags.as_deref().unwrap_or(&[]))?;
        let orgs = organizations_at(
            &file,
            file.layer.organizations.as_deref().unwrap_or(&[]),
            &flags,
        )?;
        Ok((flags, orgs))
    }

    const FLAG: &str =
        "[[feature_flags]]\nkey = \"new_checkout\"\ntype = \"boolean\"\ndefault = false\n";

    #[test]
    fn flags_and_organizations_resolve_with_defaults() {
        let text = format!(
            "{FLAG}\n[[feature_flags]]\nkey = \"theme\"\nname = \"Theme\"\ntype = \"string\"\ndefault = \"light\"\noverride_level = \"organization\"\n\n[[organizations]]\nexternal_id = \"acme\"\nname = \"Acme\"\n[organizations.feature_flags]\nnew_checkout = true\ntheme = \"dark\"\nlegacy = 3\n"
        );
        let (flags, orgs) = load(&text).unwrap();
        assert_eq!(flags[0].name, "new_checkout");
        assert_eq!(flags[0].default, "false");
        assert_eq!(flags[0].override_level, OverrideLevel::User);
        assert_eq!(flags[1].override_level.code(), "org");
        assert_eq!(orgs[0].feature_flags["new_checkout"], "true");
        assert_eq!(
            orgs[0].feature_flags["legacy"], "3",
            "undeclared: sent as text"
        );
    }

    #[test]
    fn mistakes_point_at_their_line() {
        let cases = [
            (
                "[[feature_flags]]\nkey = \"a\"\ntype = \"boolean\"\ndefault = \"yes\"\n".to_string(),
                "kinde.toml:4:11: `default` of feature flag `a` is a string, but the flag's `type` is boolean",
            ),
            (
                "[[feature_flags]]\nkey = \"a\"\ntype = \"integer\"\ndefault = 3000000000\n".into(),
                "kinde.toml:4:11: `default` of feature flag `a` is 3000000000, outside",
            ),
            (
                format!("{FLAG}{FLAG}"),
                "kinde.toml:6:7: feature flag `new_checkout` is declared twice (first on line 2)",
            ),
            (
                "[[feature_flags]]\nkey = \"a\"\ntype = \"bool\"\ndefault = true\n".into(),
                "kinde.toml:3:8: unknown variant `bool`",
            ),
            (
                format!(
                    "{FLAG}[[organizations]]\nexternal_id = \"acme\"\nname = \"Acme\"\nfeature_flags = {{ new_checkout = 1 }}\n"
                ),
                "kinde.toml:8:34: organization `acme`'s value for feature flag `new_checkout` is an integer, but the flag's `type` is boolean",
            ),
            (
                "[[organizations]]\nexternal_id = \"a\"\nname = \"A\"\n[[organizations]]\nexternal_id = \"a\"\nname = \"B\"\n".into(),
                "kinde.toml:5:15: organization `a` is declared twice (first on line 2)",
            ),
            (
                "[[feature_flags]]\nkey = \"a\"\ntype = \"boolean\"\ndefault = true\noverride_level = \"environment\"\n[[organizations]]\nexternal_id = \"x\"\nname = \"X\"\nfeature_flags = { a = false }\n".into(),
                "kinde.toml:9:23: feature flag `a` has override_level = \"environment\"",
            ),
        ];
        for (text, expected) in cases {
            let err = load(&text).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}\n---\n{text}");
        }
    }
}
