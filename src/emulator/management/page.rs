//! Kinde's pagination: `page_size` (default 10, at most 500) and an opaque `next_token`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::emulator::error::ApiError;

/// Default `page_size`.
const PAGE_SIZE_DEFAULT: usize = 10;
/// Largest `page_size`.
const PAGE_SIZE_MAX: usize = 500;

/// The paging query parameters, as sent.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    page_size: Option<String>,
    next_token: Option<String>,
}

/// A page to cut out of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    offset: usize,
    size: usize,
}

impl PageQuery {
    /// The parameters as found in a query string.
    pub(super) fn new(page_size: Option<String>, next_token: Option<String>) -> Self {
        PageQuery {
            page_size,
            next_token,
        }
    }

    /// The window asked for, or Kinde's 400.
    pub(super) fn window(&self) -> Result<Window, ApiError> {
        let size = match self.page_size.as_deref().filter(|s| !s.is_empty()) {
            None => PAGE_SIZE_DEFAULT,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if n > PAGE_SIZE_MAX => {
                    return Err(ApiError::bad_request(
                        "PAGE_SIZE_LIMIT_EXCEEDED",
                        format!("page_size must be at most {PAGE_SIZE_MAX}"),
                    ));
                }
                Ok(0) | Err(_) => {
                    return Err(ApiError::bad_request(
                        "INVALID_PAGE_SIZE",
                        "page_size must be a positive integer",
                    ));
                }
                Ok(n) => n,
            },
        };
        let offset = match self.next_token.as_deref().filter(|s| !s.is_empty()) {
            None => 0,
            Some(token) => URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
                .ok_or_else(|| {
                    ApiError::bad_request("INVALID_NEXT_TOKEN", "next_token is not valid")
                })?,
        };
        Ok(Window { offset, size })
    }
}

impl Window {
    /// This window of `items`, and the `next_token` when more remain.
    pub(super) fn cut<T>(self, items: impl IntoIterator<Item = T>) -> (Vec<T>, Option<String>) {
        let mut rest = items.into_iter().skip(self.offset);
        let page: Vec<T> = rest.by_ref().take(self.size).collect();
        let next = rest
            .next()
            .map(|_| URL_SAFE_NO_PAD.encode(format!("offset:{}", self.offset + self.size)));
        (page, next)
    }

    /// This window of `items` as [`Window::cut`] gives it, shown with `show`, in time
    /// proportional to the page, not to the offset or the list.
    pub(super) fn cut_slice<T, U>(
        self,
        items: &[T],
        show: impl Fn(&T) -> U,
    ) -> (Vec<U>, Option<String>) {
        let start = self.offset.min(items.len());
        let end = self.offset.saturating_add(self.size).min(items.len());
        let page = items[start..end].iter().map(show).collect();
        let next = (end < items.len()).then(|| URL_SAFE_NO_PAD.encode(format!("offset:{end}")));
        (page, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(size: &str, next: &str) -> PageQuery {
        PageQuery {
            page_size: Some(size.into()),
            next_token: Some(next.into()),
        }
    }

    #[test]
    fn pages_walk_to_the_end() {
        let window = query("2", "").window().unwrap();
        let (page, next) = window.cut(1..=5);
        assert_eq!(page, [1, 2]);
        let window = query("2", &next.unwrap()).window().unwrap();
        let (page, next) = window.cut(1..=5);
        assert_eq!(page, [3, 4]);
        let (page, next) = query("2", &next.unwrap()).window().unwrap().cut(1..=5);
        assert_eq!((page, next), (vec![5], None));
        assert_eq!(query("2", "").window().unwrap().cut(1..=2).1, None);
    }

    #[test]
    fn a_slice_is_cut_as_an_iterator_is() {
        let items: Vec<u32> = (1..=7).collect();
        for size in ["1", "2", "3", "7", "8"] {
            let mut next = String::new();
            loop {
                let window = query(size, &next).window().unwrap();
                let by_iter = window.cut(items.iter().copied());
                let by_slice = window.cut_slice(&items, |n| *n);
                assert_eq!(by_iter, by_slice, "page_size {size}, next_token {next:?}");
                match by_slice.1 {
                    Some(token) => next = token,
                    None => break,
                }
            }
        }
        let far = URL_SAFE_NO_PAD.encode("offset:99");
        assert_eq!(
            query("2", &far).window().unwrap().cut_slice(&items, |n| *n),
            (vec![], None)
        );
    }

    #[test]
    fn bad_parameters_are_kindes_400s() {
        for (size, next) in [("501", ""), ("0", ""), ("x", ""), ("1", "bm9wZQ")] {
            assert!(matches!(
                query(size, next).window(),
                Err(ApiError::Kinde { status, .. }) if status == axum::http::StatusCode::BAD_REQUEST
            ));
        }
    }
}
