//! The endpoint list `serve` and `proxy` print when they start.

/// The stocks, crypto, options, news and trading endpoints as `url` makes
/// them from a path, one indented line each; `options_note` ends the
/// options line's `(also /v1beta1/opra…)`.
pub(crate) fn endpoint_lines(url: impl Fn(&str) -> String, options_note: &str) -> String {
    format!(
        "\x20 stocks   {iex}  (also /v2/sip, /v2/delayed_sip, /v2/test)\n\
         \x20 crypto   {crypto}\n\
         \x20 options  {options}  (also /v1beta1/opra{options_note})\n\
         \x20 news     {news}\n\
         \x20 trading  {trading}\n",
        iex = url("/v2/iex"),
        crypto = url("/v1beta3/crypto/us"),
        options = url("/v1beta1/indicative"),
        news = url("/v1beta1/news"),
        trading = url("/stream"),
    )
}
