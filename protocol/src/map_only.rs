//! `Deserialize` for structs that only ever arrive as JSON objects.
//!
//! serde's derive also reads a struct from a sequence (`[field1, field2, …]`), and with
//! serde_json both paths are compiled into every client for every struct and field type. The
//! widget's size budget is tight enough that this matters: [`map_only_deserialize!`] writes the
//! object path only. Missing `Option` and `default` fields take their default, other missing
//! fields and duplicated fields are errors, unknown fields are skipped: what the derive does
//! for objects. Each use has a round-trip test next to its type.

/// `map_only_deserialize!(Type { field: FieldType = "wire_name" as required|default, … })`.
/// `required` fields must be present; `default` fields (this includes every `Option`) take
/// `Default::default()` when absent.
macro_rules! map_only_deserialize {
    ($name:ident { $($field:ident : $ty:ty = $wire:literal as $presence:ident),* $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Fields;
                impl<'de> serde::de::Visitor<'de> for Fields {
                    type Value = $name;
                    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                        formatter.write_str(concat!("a ", stringify!($name), " object"))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        $(let mut $field: Option<$ty> = None;)*
                        while let Some(key) = map.next_key::<String>()? {
                            match key.as_str() {
                                $($wire => {
                                    if $field.is_some() {
                                        return Err(<A::Error as serde::de::Error>::duplicate_field($wire));
                                    }
                                    $field = Some(map.next_value()?);
                                })*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok($name {
                            $($field: map_only_deserialize!(@take $presence, $field, $wire, A),)*
                        })
                    }
                }
                deserializer.deserialize_map(Fields)
            }
        }
    };
    (@take required, $field:ident, $wire:literal, $access:ident) => {
        $field.ok_or_else(|| <$access::Error as serde::de::Error>::missing_field($wire))?
    };
    (@take default, $field:ident, $wire:literal, $access:ident) => {
        $field.unwrap_or_default()
    };
}

#[cfg(test)]
mod tests {
    use crate::visitor::{ColorMode, FieldRule, FormTrigger, Position, Theme, WidgetSettings};
    use crate::Attachment;

    #[test]
    fn absent_default_fields_take_their_default() {
        let settings: WidgetSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(settings, WidgetSettings::default());
        let settings: WidgetSettings = serde_json::from_str(
            r##"{"form":{"when":"never","phone":"required"},"away_message":null,
                "theme":{"color":"#112233","mode":"dark"}}"##,
        )
        .unwrap();
        assert_eq!(settings.form.when, FormTrigger::Never);
        assert_eq!(settings.form.phone, FieldRule::Required);
        assert_eq!(settings.form.name, FieldRule::default());
        assert_eq!(settings.away_message, None);
        assert_eq!(
            settings.theme,
            Theme {
                color: "#112233".into(),
                position: Position::Right,
                launcher_text: None,
                mode: ColorMode::Dark,
            }
        );
    }

    #[test]
    fn unknown_fields_are_skipped_whatever_their_shape() {
        let theme: Theme = serde_json::from_str(
            r##"{"new":{"deep":[1,{"x":null}]},"color":"#000000","later":"x"}"##,
        )
        .unwrap();
        assert_eq!(theme.color, "#000000");
    }

    #[test]
    fn missing_duplicated_or_mistyped_fields_are_errors_that_name_the_field() {
        let missing = serde_json::from_str::<Theme>(r#"{"mode":"dark"}"#).unwrap_err();
        assert!(
            missing.to_string().contains("missing field `color`"),
            "{missing}"
        );
        let twice = serde_json::from_str::<Theme>(r##"{"color":"#000000","color":"#ffffff"}"##)
            .unwrap_err();
        assert!(
            twice.to_string().contains("duplicate field `color`"),
            "{twice}"
        );
        assert!(serde_json::from_str::<Attachment>(
            r#"{"id":"67e55044-10b1-426f-9247-bb680e5fe0c8","name":"a","content_type":"b","size":"big","url":"/u"}"#
        )
        .is_err());
    }

    #[test]
    fn only_objects_are_read() {
        // serde's derive would also read `["#000000"]`; nothing sends that.
        assert!(serde_json::from_str::<Theme>(r##"["#000000"]"##).is_err());
        assert!(serde_json::from_str::<Theme>("null").is_err());
    }
}
