//! Message search (`GET /api/v1/search/messages`): its answer, and the rules
//! a query must follow, so the edge and core refuse the same queries.

use serde::{Deserialize, Serialize};

use crate::api::Message;

/// Longest `q`, in characters.
pub const MAX_SEARCH_QUERY_CHARS: usize = 200;
/// Most words (and `-excluded` words) one query may hold.
pub const MAX_SEARCH_TERMS: usize = 16;

/// One result: the message as `GET /messages/{id}` shows it, and its
/// content with the matching words highlighted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub message: Message,
    /// An excerpt of the content, HTML-escaped (`&`, `<`, `>`, `"`, `'`), with
    /// each matching word wrapped in `<mark>` and `</mark>`: safe to insert as HTML.
    pub snippet: String,
}

/// A parsed query: words that must all occur (the last one as a prefix,
/// so a query typed so far already finds), and words that must not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// Parses `q` like a search box: words are runs of letters and digits (any
/// script; everything else separates them and is ignored), matched without
/// regard to case; a word written `-word` excludes messages that contain it;
/// the last included word matches as a prefix unless `q` ends with a space.
/// `Err` is the message of a `VALIDATION_ERROR`: an empty or oversized query,
/// or one with nothing to find.
pub fn parse_search_query(q: &str) -> Result<SearchTerms, String> {
    if q.chars().count() > MAX_SEARCH_QUERY_CHARS {
        return Err(format!(
            "q must be at most {MAX_SEARCH_QUERY_CHARS} characters"
        ));
    }
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for chunk in q.split_whitespace() {
        let (negated, body) = match chunk.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, chunk),
        };
        for (i, word) in body
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .enumerate()
        {
            let word = word.to_lowercase();
            // `-foo-bar` excludes `foo`; `bar` is then an ordinary word
            if negated && i == 0 {
                exclude.push(word);
            } else {
                include.push(word);
            }
        }
    }
    if include.len() + exclude.len() > MAX_SEARCH_TERMS {
        return Err(format!("q must hold at most {MAX_SEARCH_TERMS} words"));
    }
    if include.is_empty() {
        return Err("q must contain at least one word to find (letters or digits)".into());
    }
    Ok(SearchTerms { include, exclude })
}

impl SearchTerms {
    /// The `to_tsquery` text: every word quoted as a lexeme (they hold only
    /// letters and digits, so nothing in them is tsquery syntax), joined by
    /// `&`, excluded words with `!`, the last included word with `:*` when
    /// `prefix`. Never a syntax error.
    pub fn to_tsquery(&self, prefix: bool) -> String {
        let last = self.include.len() - 1;
        let mut parts: Vec<String> = self
            .include
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if prefix && i == last {
                    format!("'{w}':*")
                } else {
                    format!("'{w}'")
                }
            })
            .collect();
        parts.extend(self.exclude.iter().map(|w| format!("!'{w}'")));
        parts.join(" & ")
    }
}

/// Whether the last word of `q` is still being typed (no trailing space).
pub fn ends_in_prefix(q: &str) -> bool {
    !q.ends_with(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_any_script_lowercased_last_as_prefix() {
        let t = parse_search_query("Hello, Wörld 東京 rech").unwrap();
        assert_eq!(t.include, ["hello", "wörld", "東京", "rech"]);
        assert_eq!(t.to_tsquery(true), "'hello' & 'wörld' & '東京' & 'rech':*");
        assert_eq!(t.to_tsquery(false), "'hello' & 'wörld' & '東京' & 'rech'");
    }

    #[test]
    fn syntax_characters_are_separators() {
        let t = parse_search_query("a'b & c|d !e :* (f) \\g").unwrap();
        assert_eq!(t.include, ["a", "b", "c", "d", "e", "f", "g"]);
        assert!(t.exclude.is_empty());
    }

    #[test]
    fn minus_excludes() {
        let t = parse_search_query("deploy -friday").unwrap();
        assert_eq!(t.to_tsquery(true), "'deploy':* & !'friday'");
    }

    #[test]
    fn refusals() {
        assert!(parse_search_query("").is_err());
        assert!(parse_search_query("   ").is_err());
        assert!(parse_search_query("!!! ::: &&").is_err());
        assert!(parse_search_query("-only -excluded").is_err());
        assert!(parse_search_query(&"x".repeat(201)).is_err());
        assert!(parse_search_query(&"w ".repeat(17)).is_err());
        assert!(parse_search_query(&"w ".repeat(16)).is_ok());
    }

    #[test]
    fn trailing_space_ends_the_word() {
        assert!(ends_in_prefix("deplo"));
        assert!(!ends_in_prefix("deploy "));
    }
}
