//! The webmail's keyboard shortcuts, as people know them from other
//! webmails: `j`/`k` move through the message list, `o` (or Enter) opens,
//! `r` replies, `a` replies to all, `f` forwards, `c` writes a new message,
//! `/` searches, `#` moves to the trash, `u` goes back to the list and `?`
//! shows them. They are off while the person types in a field and when
//! Ctrl, Alt or Meta is held (AltGr, which French keyboards need for `#`,
//! is not a modifier here).
//!
//! Pages say which element a key acts on with a `data-key` attribute (the
//! reply link carries `data-key="r"`); the list's rows are `ul.maillist a`.
//! What a key means is decided by [`action`], without a browser.

use leptos::prelude::*;

use crate::components::shell::use_lang;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Focus the next row of the message list.
    Next,
    /// Focus the previous row.
    Previous,
    /// Open the focused row (the first when none is).
    Open,
    /// Activate the page's element marked with this `data-key`.
    Press(&'static str),
    /// Move the focused row's message to the trash, else the open one's.
    Delete,
    /// Focus the search field, or go to the search page.
    Search,
    /// Show or hide the list of shortcuts.
    Help,
    /// Close the list of shortcuts.
    Close,
}

/// The action for a `KeyboardEvent.key`, if it is a shortcut.
pub fn action(key: &str) -> Option<Action> {
    Some(match key {
        "j" => Action::Next,
        "k" => Action::Previous,
        "o" => Action::Open,
        "r" => Action::Press("r"),
        "a" => Action::Press("a"),
        "f" => Action::Press("f"),
        "c" => Action::Press("c"),
        "u" => Action::Press("u"),
        "#" => Action::Delete,
        "/" => Action::Search,
        "?" => Action::Help,
        "Escape" => Action::Close,
        _ => return None,
    })
}

/// The `?` button in the top bar and the list it opens; in the browser,
/// the key listener.
#[component]
pub fn Shortcuts() -> impl IntoView {
    let lang = use_lang();
    let t = lang.t();
    let open = RwSignal::new(false);
    let close_button = NodeRef::<leptos::html::Button>::new();
    // effects run only in the browser: says the keys are listened to
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    #[cfg(feature = "hydrate")]
    {
        let csrf = use_context::<crate::backend::Viewer>()
            .map(|v| v.csrf)
            .unwrap_or_default();
        let handle = window_event_listener(leptos::ev::keydown, move |e| {
            browser::on_key(&e, open, &csrf)
        });
        on_cleanup(move || handle.remove());
        Effect::new(move |_| {
            if open.get() {
                if let Some(b) = close_button.get() {
                    let _ = b.focus();
                }
            }
        });
    }
    let rows = move || {
        [
            ("j", t.sc_next),
            ("k", t.sc_prev),
            ("o", t.sc_open),
            ("r", t.reply),
            ("a", t.reply_all),
            ("f", t.forward),
            ("c", t.new_message),
            ("/", t.search),
            ("#", t.sc_delete),
            ("u", t.sc_back),
            ("?", t.sc_help),
        ]
        .into_iter()
        .map(|(k, what)| view! { <tr><td><kbd>{k}</kbd></td><td>{what}</td></tr> })
        .collect_view()
    };
    view! {
        <button type="button" class="shortcuts-button" id="shortcuts-button"
            aria-label=t.shortcuts title=t.shortcuts aria-haspopup="dialog"
            aria-expanded=move || if open.get() { "true" } else { "false" }
            data-ready=move || ready.get().then_some("true")
            on:click=move |_| open.update(|o| *o = !*o)>"?"</button>
        {move || open.get().then(|| view! {
            <div class="shortcuts" role="dialog" aria-labelledby="shortcuts-title" id="shortcuts">
                <h2 id="shortcuts-title">{t.shortcuts}</h2>
                <p class="muted">{t.shortcuts_intro}</p>
                <table>
                    <tbody>{rows()}</tbody>
                </table>
                <button type="button" node_ref=close_button id="shortcuts-close"
                    on:click=move |_| open.set(false)>{t.close}</button>
            </div>
        })}
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use leptos::wasm_bindgen::JsCast;
    use leptos::web_sys::{
        Document, Element, HtmlElement, HtmlFormElement, HtmlInputElement, KeyboardEvent,
    };

    use super::Action;

    const ROWS: &str = "ul.maillist a";

    pub fn on_key(e: &KeyboardEvent, open: RwSignal<bool>, csrf: &str) {
        let alt_gr = e.get_modifier_state("AltGraph");
        if e.default_prevented() || (!alt_gr && (e.ctrl_key() || e.alt_key())) || e.meta_key() {
            return;
        }
        if typing(e) {
            return;
        }
        let Some(action) = super::action(&e.key()) else {
            return;
        };
        let Some(doc) = leptos::prelude::window().document() else {
            return;
        };
        let handled = match action {
            Action::Next => step(&doc, 1),
            Action::Previous => step(&doc, -1),
            Action::Open => {
                let row = focused_row(&doc).or_else(|| rows(&doc).into_iter().next());
                row.map(|r| r.click()).is_some()
            }
            Action::Press(key) => press(&doc, key),
            Action::Delete => match focused_row(&doc) {
                Some(row) => trash_row(&doc, &row, csrf),
                None => press(&doc, "#"),
            },
            Action::Search => {
                if focus_search(&doc) {
                    true
                } else if press(&doc, "/") {
                    focus_search_later(20);
                    true
                } else {
                    false
                }
            }
            Action::Help => {
                open.update(|o| *o = !*o);
                true
            }
            Action::Close => {
                let was = open.get_untracked();
                open.set(false);
                was
            }
        };
        if handled {
            e.prevent_default();
        }
    }

    /// A key pressed in a field is the person's text, not a shortcut.
    fn typing(e: &KeyboardEvent) -> bool {
        let Some(el) = e.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return false;
        };
        if let Some(input) = el.dyn_ref::<HtmlInputElement>() {
            return !matches!(
                input.type_().as_str(),
                "checkbox" | "radio" | "button" | "submit" | "reset"
            );
        }
        matches!(el.tag_name().as_str(), "TEXTAREA" | "SELECT")
            || el
                .dyn_ref::<HtmlElement>()
                .is_some_and(|h| h.is_content_editable())
    }

    fn rows(doc: &Document) -> Vec<HtmlElement> {
        let Ok(list) = doc.query_selector_all(ROWS) else {
            return Vec::new();
        };
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
            .collect()
    }

    fn focused_row(doc: &Document) -> Option<HtmlElement> {
        let active = doc.active_element()?;
        rows(doc).into_iter().find(|r| {
            let e: &Element = r;
            e == &active
        })
    }

    /// Focus the row `by` places from the focused one (the first if none).
    fn step(doc: &Document, by: i32) -> bool {
        let rows = rows(doc);
        if rows.is_empty() {
            return false;
        }
        let active = doc.active_element();
        let at = rows.iter().position(|r| {
            let e: &Element = r;
            active.as_ref() == Some(e)
        });
        let next = match at {
            None => 0,
            Some(i) => (i as i32 + by).clamp(0, rows.len() as i32 - 1) as usize,
        };
        rows[next].focus().is_ok()
    }

    fn press(doc: &Document, key: &str) -> bool {
        let selector = format!("[data-key=\"{key}\"]");
        match doc
            .query_selector(&selector)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlElement>().ok())
        {
            Some(el) => {
                el.click();
                true
            }
            None => false,
        }
    }

    fn focus_search(doc: &Document) -> bool {
        match doc
            .query_selector("input[data-key=\"/\"]")
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
        {
            Some(input) => {
                input.select();
                input.focus().is_ok()
            }
            None => false,
        }
    }

    /// After a client-side move to the search page, its field appears a
    /// moment later: try again for up to a second.
    fn focus_search_later(tries: u32) {
        set_timeout(
            move || {
                let found = leptos::prelude::window()
                    .document()
                    .is_some_and(|d| focus_search(&d));
                if !found && tries > 0 {
                    focus_search_later(tries - 1);
                }
            },
            std::time::Duration::from_millis(50),
        );
    }

    /// `#` on a focused row: the same form post as the message page's
    /// "Move to the trash" button.
    fn trash_row(doc: &Document, row: &HtmlElement, csrf: &str) -> bool {
        let Some(href) = row.get_attribute("href") else {
            return false;
        };
        let Some(id) = href
            .strip_prefix("/mail/m/")
            .filter(|id| id.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        let (Some(form), Some(input), Some(body)) = (
            doc.create_element("form")
                .ok()
                .and_then(|f| f.dyn_into::<HtmlFormElement>().ok()),
            doc.create_element("input")
                .ok()
                .and_then(|i| i.dyn_into::<HtmlInputElement>().ok()),
            doc.body(),
        ) else {
            return false;
        };
        form.set_method("post");
        form.set_action(&format!("/mail/m/{id}/trash"));
        input.set_type("hidden");
        input.set_name("csrf");
        input.set_value(csrf);
        form.append_child(&input).is_ok()
            && body.append_child(&form).is_ok()
            && form.submit().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_people_know() {
        assert_eq!(action("j"), Some(Action::Next));
        assert_eq!(action("k"), Some(Action::Previous));
        assert_eq!(action("o"), Some(Action::Open));
        assert_eq!(action("r"), Some(Action::Press("r")));
        assert_eq!(action("a"), Some(Action::Press("a")));
        assert_eq!(action("f"), Some(Action::Press("f")));
        assert_eq!(action("c"), Some(Action::Press("c")));
        assert_eq!(action("u"), Some(Action::Press("u")));
        assert_eq!(action("#"), Some(Action::Delete));
        assert_eq!(action("/"), Some(Action::Search));
        assert_eq!(action("?"), Some(Action::Help));
        assert_eq!(action("Escape"), Some(Action::Close));
        // capitals (Shift held), Enter (a focused link opens itself) and
        // anything else are not shortcuts
        for k in ["J", "R", "Enter", "x", "Tab", " "] {
            assert_eq!(action(k), None, "{k}");
        }
    }
}
