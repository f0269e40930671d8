//! Following `next_page_token` (AIP-158) for the list commands.

use std::future::Future;

use serde::Serialize;

use crate::error::CliError;

/// One page as the list RPCs return it.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
    /// 0 when the RPC does not report a total.
    pub total_size: i64,
}

/// The first page, or every page with `all`. A server that hands back the token it was given
/// would loop forever; that is reported instead.
pub async fn fetch<T, F, Fut>(all: bool, mut fetch_page: F) -> Result<Page<T>, CliError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Page<T>, CliError>>,
{
    let mut page = fetch_page(String::new()).await?;
    while all && !page.next_page_token.is_empty() {
        let next = fetch_page(page.next_page_token.clone()).await?;
        if next.next_page_token == page.next_page_token {
            return Err(CliError::Other("the server returned the same page token twice".into()));
        }
        page.items.extend(next.items);
        page.next_page_token = next.next_page_token;
        page.total_size = page.total_size.max(next.total_size);
    }
    Ok(page)
}

/// The footer under a partial table: how many more there are and how to see them.
pub fn more_note<T>(page: &Page<T>, noun: &str) -> Option<String> {
    if page.next_page_token.is_empty() {
        return None;
    }
    let shown = page.items.len() as i64;
    if page.total_size > shown {
        let more = page.total_size - shown;
        return Some(format!(
            "showing {shown} of {} {noun}; {more} more (use --all to list every one)",
            page.total_size
        ));
    }
    Some(format!(
        "showing {shown} {noun}; more available (use --all to list every one)"
    ))
}

/// The JSON shape of a list: `{"<noun>": [...], "next_page_token": "...", "total_size": N}`.
#[derive(Debug, Serialize)]
pub struct ListView<V> {
    #[serde(flatten)]
    pub items: std::collections::BTreeMap<&'static str, Vec<V>>,
    pub next_page_token: String,
    pub total_size: i64,
}

impl<V> ListView<V> {
    pub fn new<T>(key: &'static str, page: &Page<T>, view: impl Fn(&T) -> V) -> Self {
        Self {
            items: [(key, page.items.iter().map(view).collect())].into_iter().collect(),
            next_page_token: page.next_page_token.clone(),
            total_size: page.total_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(token: &str) -> Result<Page<u32>, CliError> {
        let (items, next) = match token {
            "" => (vec![1, 2], "p2"),
            "p2" => (vec![3, 4], "p3"),
            "p3" => (vec![5], ""),
            other => return Err(CliError::Other(format!("unexpected token {other}"))),
        };
        Ok(Page {
            items,
            next_page_token: next.into(),
            total_size: 5,
        })
    }

    #[tokio::test]
    async fn first_page_only_unless_all() {
        let first = fetch(false, |token| async move { pages(&token) }).await.unwrap();
        assert_eq!(first.items, [1, 2]);
        assert_eq!(
            more_note(&first, "users").unwrap(),
            "showing 2 of 5 users; 3 more (use --all to list every one)"
        );

        let every = fetch(true, |token| async move { pages(&token) }).await.unwrap();
        assert_eq!(every.items, [1, 2, 3, 4, 5]);
        assert!(every.next_page_token.is_empty());
        assert_eq!(more_note(&every, "users"), None);
    }

    #[tokio::test]
    async fn a_repeated_token_is_an_error_not_a_loop() {
        let result = fetch(true, |_| async {
            Ok(Page {
                items: vec![1],
                next_page_token: "same".into(),
                total_size: 0,
            })
        })
        .await;
        assert!(result.is_err());
    }

    #[test]
    fn list_json_names_the_items() {
        let page = Page {
            items: vec![1, 2],
            next_page_token: "n".into(),
            total_size: 9,
        };
        let json = serde_json::to_value(ListView::new("users", &page, |n| n * 10)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"users": [10, 20], "next_page_token": "n", "total_size": 9})
        );
    }
}
