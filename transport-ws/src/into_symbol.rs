//! What `subscribe` and `unsubscribe` accept as symbols.

use tickwire_core::{InvalidSymbol, Symbol};

/// Something that names a symbol: a [`Symbol`], or text validated into one.
///
/// ```
/// use tickwire_core::Symbol;
/// use tickwire_ws::IntoSymbol;
/// assert_eq!("AAPL".into_symbol()?, Symbol::new("AAPL")?);
/// assert!("not a symbol".into_symbol().is_err());
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
pub trait IntoSymbol {
    /// The symbol, or why the text is not one.
    fn into_symbol(self) -> Result<Symbol, InvalidSymbol>;
}

impl IntoSymbol for Symbol {
    fn into_symbol(self) -> Result<Symbol, InvalidSymbol> {
        Ok(self)
    }
}

impl IntoSymbol for &Symbol {
    fn into_symbol(self) -> Result<Symbol, InvalidSymbol> {
        Ok(self.clone())
    }
}

impl IntoSymbol for &str {
    fn into_symbol(self) -> Result<Symbol, InvalidSymbol> {
        Symbol::new(self)
    }
}

impl IntoSymbol for String {
    fn into_symbol(self) -> Result<Symbol, InvalidSymbol> {
        Symbol::new(&self)
    }
}

impl IntoSymbol for &String {
    fn into_symbol(self) -> Result<Symbol, InvalidSymbol> {
        Symbol::new(self)
    }
}

/// Validates every symbol, stopping at the first invalid one.
pub(crate) fn collect_symbols<I>(symbols: I) -> Result<Vec<Symbol>, InvalidSymbol>
where
    I: IntoIterator,
    I::Item: IntoSymbol,
{
    symbols.into_iter().map(IntoSymbol::into_symbol).collect()
}
