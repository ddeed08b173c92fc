//! Colour: whether to use it, decided once per stream by the binary, and
//! the few ANSI sequences cxskill paints with.
//!
//! The rule, as terminal tools agree on it: colour at a terminal, none
//! elsewhere; `NO_COLOR` (any non-empty value) turns it off;
//! `CLICOLOR_FORCE` (non-empty, not `0`) turns it on anywhere;
//! `--color auto|always|never` overrides both variables. Rendering
//! functions take a [`Palette`] and stay pure: they never look at the
//! environment or the terminal themselves.

use crate::settings::Lookup;

/// `--color`: when to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// At a terminal only (ignoring NO_COLOR and CLICOLOR_FORCE).
    Auto,
    /// Always, even into a pipe or a file.
    Always,
    /// Never.
    Never,
}

/// Whether a stream gets colour: `flag` is `--color` if given, `env`
/// reads `NO_COLOR` and `CLICOLOR_FORCE`, `terminal` says whether the
/// stream is a terminal.
pub fn use_color(flag: Option<ColorWhen>, env: Lookup<'_>, terminal: bool) -> bool {
    match flag {
        Some(ColorWhen::Always) => return true,
        Some(ColorWhen::Never) => return false,
        Some(ColorWhen::Auto) => return terminal,
        None => {}
    }
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    terminal
}

/// What a piece of text means, and so its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// `+` in a plan: green.
    Add,
    /// `~` in a plan: yellow.
    Change,
    /// `-` in a plan: red.
    Remove,
    /// An `error:` line: red.
    Error,
}

impl Paint {
    fn sgr(self) -> &'static str {
        match self {
            Paint::Add => GREEN,
            Paint::Change => YELLOW,
            Paint::Remove | Paint::Error => RED,
        }
    }
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// Colour on or off for one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Palette {
    on: bool,
}

impl Palette {
    /// No colour at all.
    pub const PLAIN: Palette = Palette { on: false };
    /// Colour.
    pub const COLOR: Palette = Palette { on: true };

    pub fn new(on: bool) -> Palette {
        Palette { on }
    }

    pub fn is_on(self) -> bool {
        self.on
    }

    /// `text` in the colour of `paint`, or as it is. `text` must already
    /// be terminal-safe: the sequences added here are the only ones sent.
    pub fn paint(self, paint: Paint, text: &str) -> String {
        if self.on && !text.is_empty() {
            format!("{}{text}{RESET}", paint.sgr())
        } else {
            text.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn colour_follows_the_terminal_when_nothing_says_otherwise() {
        assert!(use_color(None, &env(&[]), true));
        assert!(!use_color(None, &env(&[]), false));
    }

    #[test]
    fn no_color_turns_it_off_and_clicolor_force_turns_it_on() {
        assert!(!use_color(None, &env(&[("NO_COLOR", "1")]), true));
        assert!(!use_color(None, &env(&[("NO_COLOR", "0")]), true));
        // Empty means unset.
        assert!(use_color(None, &env(&[("NO_COLOR", "")]), true));
        assert!(use_color(None, &env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!use_color(None, &env(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!use_color(None, &env(&[("CLICOLOR_FORCE", "")]), false));
        // NO_COLOR wins over CLICOLOR_FORCE.
        assert!(!use_color(
            None,
            &env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]),
            true
        ));
    }

    #[test]
    fn the_color_flag_overrides_both_variables() {
        let both = env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]);
        assert!(use_color(Some(ColorWhen::Always), &both, false));
        assert!(!use_color(Some(ColorWhen::Never), &both, true));
        assert!(use_color(Some(ColorWhen::Auto), &both, true));
        assert!(!use_color(
            Some(ColorWhen::Auto),
            &env(&[("CLICOLOR_FORCE", "1")]),
            false
        ));
    }

    #[test]
    fn a_plain_palette_adds_nothing() {
        assert_eq!(Palette::PLAIN.paint(Paint::Add, "+ 5"), "+ 5");
        assert_eq!(
            Palette::COLOR.paint(Paint::Add, "+ 5"),
            "\x1b[32m+ 5\x1b[0m"
        );
        assert_eq!(Palette::COLOR.paint(Paint::Remove, ""), "");
    }
}
