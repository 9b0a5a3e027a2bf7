//! Percent-encoding of one URL component (a path segment or a query value),
//! for edge and core alike: everything but RFC 3986's unreserved characters
//! is encoded, so an opaque id or token never leaves its segment.

pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_component;

    #[test]
    fn values_stay_in_one_component() {
        assert_eq!(encode_component("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_component("load-001"), "load-001");
        assert_eq!(encode_component("x?y=1&z#é"), "x%3Fy%3D1%26z%23%C3%A9");
    }
}
