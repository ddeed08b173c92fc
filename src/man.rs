//! Man pages, generated from the clap definitions the parser uses (so
//! `--help` and the pages cannot drift apart), one per command:
//! `cxskill(1)`, `cxskill-apply(1)`, `cxskill-config-show(1)`, ...
//!
//! clap_mangen writes the sections clap knows (name, synopsis,
//! description, options, subcommands); this module adds what only
//! cxskill knows: the environment ([`settings::ENVIRONMENT`]), the config
//! file ([`settings::PROFILE_KEYS`]) and the exit codes
//! ([`exit_codes::TABLE`]), each listed from its one place, and SEE ALSO
//! references that all name pages that are written.

use roff::{Roff, bold, italic, roman};

use crate::exit_codes;
use crate::settings::{ENVIRONMENT, PROFILE_KEYS};

/// One man page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `cxskill`, `cxskill-config-show`.
    pub name: String,
    /// The page in roff.
    pub roff: String,
}

impl Page {
    /// `cxskill-apply.1`.
    pub fn file_name(&self) -> String {
        format!("{}.1", self.name)
    }
}

/// Every page, the top one first, then each command's depth first.
pub fn pages(cli: clap::Command) -> Vec<Page> {
    let root = prepared(cli);
    let mut out = Vec::new();
    walk(&root, None, &mut out);
    out
}

/// The page of the command at `path` (`[]`: the top page; `["config",
/// "show"]`), or what the commands are when no command is there.
pub fn page(cli: clap::Command, path: &[String]) -> Result<Page, String> {
    let root = prepared(cli);
    let mut command = &root;
    let mut parent = None;
    for (depth, name) in path.iter().enumerate() {
        let next = command
            .get_subcommands()
            .find(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name));
        let Some(next) = next else {
            let known: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
            let asked = path[..=depth].join(" ");
            return Err(format!(
                "no command `{asked}`; the commands{} are: {}",
                if depth == 0 {
                    String::new()
                } else {
                    format!(" of `{}`", path[..depth].join(" "))
                },
                known.join(", ")
            ));
        };
        parent = Some(command);
        command = next;
    }
    Ok(render(command, parent))
}

/// The command as the pages describe it: built (so each subcommand knows
/// its full name and the global flags), without clap's `help`
/// subcommand (it has no page).
fn prepared(cli: clap::Command) -> clap::Command {
    let mut root = cli.disable_help_subcommand(true);
    root.build();
    root
}

fn walk(command: &clap::Command, parent: Option<&clap::Command>, out: &mut Vec<Page>) {
    out.push(render(command, parent));
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        walk(sub, Some(command), out);
    }
}

/// `cxskill-config-show`: clap's display name once built.
fn page_name(command: &clap::Command) -> String {
    command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
        .to_owned()
}

fn render(command: &clap::Command, parent: Option<&clap::Command>) -> Page {
    let top = parent.is_none();
    // The exit codes have their own section here; clap's after_help (the
    // same table under --help) would repeat them as EXTRA.
    let man = clap_mangen::Man::new(command.clone().after_help(None::<&str>))
        .source(format!("cxskill {}", env!("CARGO_PKG_VERSION")))
        .manual("cxskill manual");
    let mut text = String::new();
    let mut section = |render: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut buffer = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = render(&mut buffer);
        append(&mut text, &String::from_utf8_lossy(&buffer));
    };
    section(&|w| man.render_title(w));
    section(&|w| man.render_name_section(w));
    section(&|w| man.render_synopsis_section(w));
    section(&|w| man.render_description_section(w));
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        section(&|w| man.render_options_section(w));
    }
    if command.get_subcommands().any(|c| !c.is_hide_set()) {
        section(&|w| man.render_subcommands_section(w));
    }
    let mut roff = Roff::new();
    if top {
        environment(&mut roff);
        files(&mut roff);
    }
    exit_status(&mut roff);
    see_also(&mut roff, command, parent);
    append(&mut text, &roff.render());
    Page {
        name: page_name(command),
        roff: text,
    }
}

/// The roff crate starts every rendering with the same two-line preamble;
/// the page needs it once.
fn append(text: &mut String, rendered: &str) {
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    match rendered.strip_prefix(PREAMBLE) {
        Some(rest) if !text.is_empty() => text.push_str(rest),
        _ => text.push_str(rendered),
    }
}

/// `.TP` entries: a bold term, then its description.
fn entry(roff: &mut Roff, term: &str, description: &str) {
    roff.control("TP", []);
    roff.text([bold(term)]);
    roff.text([roman(description)]);
}

fn environment(roff: &mut Roff) {
    roff.control("SH", ["ENVIRONMENT"]);
    roff.text([roman(
        "Each setting is taken from the first of: a flag, the environment, the profile of the config file, the built-in default. Empty values count as unset.",
    )]);
    for var in ENVIRONMENT {
        entry(roff, var.name, var.doc);
    }
}

fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    roff.control("TP", []);
    roff.text([italic("$XDG_CONFIG_HOME/cxskill/config.toml")]);
    roff.text([roman(
        "The config file, else $HOME/.config/cxskill/config.toml, or --config FILE. A missing default file is no configuration; a missing --config FILE is an error. cxskill config init writes a commented one (mode 0600), and cxskill config show prints every effective setting and its source.",
    )]);
    roff.control("PP", []);
    roff.text([roman(
        "It is TOML. default_profile names the profile used when neither --profile nor CXSKILL_PROFILE is given. A [levels] table names proficiency levels (integers from 1, the best, to 20) that a roster can use, e.g. expert = 1. Each [profile.NAME] table names a tenant, with these keys:",
    )]);
    for key in PROFILE_KEYS {
        roff.control("TP", []);
        roff.text([bold(key.key), roman(" = "), italic(key.example)]);
        roff.text([roman(key.doc)]);
    }
    roff.control("TP", []);
    roff.text([bold("[profile.NAME.levels]")]);
    roff.text([roman(
        "levels for that profile only, extending and overriding [levels]",
    )]);
    roff.control("PP", []);
    roff.text([roman(
        "Secrets are never written in the file: access_key_secret, client_secret or token there is an error. Each secret is a *_file (the file's contents, trimmed; ~ is $HOME, a relative path is taken from the config file's directory) or a *_command (run with sh -c; its standard output, trimmed), at most one of the two, read or run only when a command connects. The profile in use is checked strictly (an unknown key is an error naming its line); problems in the other profiles are only warned about. cxskill warns when the config file or a secret file can be read by group or others.",
    )]);
}

fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in exit_codes::entries() {
        entry(roff, code, meaning);
    }
}

fn see_also(roff: &mut Roff, command: &clap::Command, parent: Option<&clap::Command>) {
    let mut names = Vec::new();
    if let Some(parent) = parent {
        // The top page, with the environment and the config file, and the
        // parent of a nested command.
        let top = page_name(parent)
            .split('-')
            .next()
            .unwrap_or("cxskill")
            .to_owned();
        if page_name(parent) != top {
            names.push(top);
        }
        names.push(page_name(parent));
    }
    names.extend(
        command
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(page_name),
    );
    if names.is_empty() {
        return;
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut inlines = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            inlines.push(roman(", "));
        }
        inlines.push(bold(name.as_str()));
        inlines.push(roman("(1)"));
    }
    roff.text(inlines);
}
