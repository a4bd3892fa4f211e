//! A readable device label ("Chrome 156 on Linux") from a user-agent text,
//! for the member's list of signed-in devices. A small parser of the
//! tokens browsers actually send; order matters because browsers claim to
//! be each other (Edge says Chrome and Safari, Chrome says Safari).

/// Browsers by the token that names them, most specific first.
const BROWSERS: &[(&str, &str)] = &[
    ("wxwork/", "WeCom"),
    ("MicroMessenger/", "WeChat"),
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("curl/", "curl"),
    ("okhttp/", "OkHttp"),
    ("python-requests/", "Python requests"),
];

/// Operating systems by a token, most specific first.
const SYSTEMS: &[(&str, &str)] = &[
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("HarmonyOS", "HarmonyOS"),
    ("Linux", "Linux"),
];

/// The major version after `token` (`Chrome/156.0.1` → `156`).
fn major_after(ua: &str, token: &str) -> Option<String> {
    let rest = &ua[ua.find(token)? + token.len()..];
    let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!major.is_empty()).then_some(major)
}

fn browser(ua: &str) -> Option<String> {
    let named = BROWSERS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(token, name)| match major_after(ua, token) {
            Some(major) => format!("{name} {major}"),
            None => (*name).to_owned(),
        });
    // Safari names its version in `Version/`, and is the last resort of
    // every WebKit browser.
    named.or_else(|| {
        ua.contains("Safari/")
            .then(|| match major_after(ua, "Version/") {
                Some(major) => format!("Safari {major}"),
                None => "Safari".to_owned(),
            })
    })
}

fn system(ua: &str) -> Option<&'static str> {
    SYSTEMS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name)
}

/// "Browser major on OS", as much of it as the user agent tells;
/// "Unknown device" when it tells nothing.
pub fn device_label(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("").trim();
    match (browser(ua), system(ua)) {
        (Some(b), Some(os)) => format!("{b} on {os}"),
        (Some(b), None) => b,
        (None, Some(os)) => format!("Unknown browser on {os}"),
        (None, None) => "Unknown device".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
        "Chrome 156 on Linux"
    )]
    #[case(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
        "Edge 131 on Windows"
    )]
    #[case(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Safari 18 on macOS"
    )]
    #[case(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "Safari 17 on iOS"
    )]
    #[case(
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox 133 on Linux"
    )]
    #[case(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.107 Mobile Safari/537.36",
        "Chrome 130 on Android"
    )]
    #[case(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 OPR/115.0.0.0",
        "Opera 115 on Windows"
    )]
    #[case(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 wxwork/4.1.20 MicroMessenger/7.0.1",
        "WeCom 4 on iOS"
    )]
    #[case("curl/8.5.0", "curl 8")]
    #[case("", "Unknown device")]
    #[case("SomethingOdd (Linux)", "Unknown browser on Linux")]
    fn labels(#[case] ua: &str, #[case] expected: &str) {
        assert_eq!(device_label(Some(ua)), expected);
    }

    #[test]
    fn no_user_agent() {
        assert_eq!(device_label(None), "Unknown device");
    }
}
