//! `multipart/form-data` bodies (RFC 7578), as Kinde's logo uploads send them: enough of the
//! format to find a named file part, its file name, its declared type and its bytes. The body
//! is already bounded by the Management API's size limit; parts are too ([`MAX_PARTS`]).

/// More parts than any upload Kinde takes has; past this the body is refused.
const MAX_PARTS: usize = 16;

/// One part of a form.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Part<'a> {
    /// The form field (`name=` of its `Content-Disposition`).
    pub(super) name: String,
    /// The file's name, for a file part.
    pub(super) file_name: Option<String>,
    /// Its declared `Content-Type`.
    pub(super) content_type: Option<String>,
    /// Its bytes.
    pub(super) data: &'a [u8],
}

/// The boundary a `Content-Type` of `multipart/form-data` names; `None` for any other type.
pub(super) fn boundary(content_type: &str) -> Option<String> {
    let mut fields = content_type.split(';');
    let kind = fields.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    fields
        .filter_map(|f| f.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

/// The parts of `body`, split at `boundary`; why not, when the body is not such a form.
pub(super) fn parse<'a>(boundary: &str, body: &'a [u8]) -> Result<Vec<Part<'a>>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let broken = || "The multipart body is not well formed".to_string();
    // A preamble may come before the first delimiter.
    let mut at = find(body, delimiter).ok_or_else(broken)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        if parts.len() == MAX_PARTS {
            return Err(format!("The form has more than {MAX_PARTS} parts"));
        }
        let rest = rest.strip_prefix(b"\r\n").ok_or_else(broken)?;
        let head_end = find(rest, b"\r\n\r\n").ok_or_else(broken)?;
        let head = String::from_utf8_lossy(&rest[..head_end]);
        let content = &rest[head_end + 4..];
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(delimiter);
        let data_end = find(content, &closing).ok_or_else(broken)?;
        parts.push(part(&head, &content[..data_end])?);
        // Past this part's data and the delimiter after it.
        at = body.len() - content.len() + data_end + closing.len();
    }
}

/// A part from its header lines and bytes.
fn part<'a>(head: &str, data: &'a [u8]) -> Result<Part<'a>, String> {
    let mut name = None;
    let mut file_name = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let Some((header, value)) = line.split_once(':') else {
            continue;
        };
        if header.trim().eq_ignore_ascii_case("content-disposition") {
            for field in value.split(';').skip(1) {
                let Some((key, value)) = field.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"').to_string();
                match key.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(value),
                    "filename" => file_name = Some(value),
                    _ => {}
                }
            }
        } else if header.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    Ok(Part {
        name: name.ok_or("A form part has no name")?,
        file_name,
        content_type,
        data,
    })
}

/// Where `needle` first is in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_is_split_into_its_named_parts() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ\r\ncontent-disposition: form-data; name=\"logo\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--Xy\r\n--XyZ--\r\n";
        let boundary = boundary("multipart/form-data; boundary=\"XyZ\"").unwrap();
        let parts = parse(&boundary, body).unwrap();
        assert_eq!(
            parts,
            [
                Part {
                    name: "note".into(),
                    file_name: None,
                    content_type: None,
                    data: b"hi",
                },
                Part {
                    name: "logo".into(),
                    file_name: Some("a.png".into()),
                    content_type: Some("image/png".into()),
                    data: b"\x89PNG\r\n--Xy",
                },
            ]
        );
    }

    #[test]
    fn other_types_and_broken_forms_are_refused() {
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert!(parse("b", b"no delimiter at all").is_err());
        assert!(
            parse(
                "b",
                b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nnever closed"
            )
            .is_err()
        );
        assert!(parse("b", b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--").is_err());
        let many =
            "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n".repeat(17) + "--b--";
        assert!(parse("b", many.as_bytes()).is_err());
    }
}
