//! The legend and the notes, drawn in a strip below the chart so they never cover a curve:
//! entries in as many columns as fit, then one line per note.
use super::marker;
use super::series::Marker;
use plotters::coord::Shift;
use plotters::prelude::*;

const ROW: u32 = 20;
const NOTE_ROW: u32 = 18;
const SAMPLE: i32 = 24;
const PAD: i32 = 12;
/// The strip takes at most this share of the picture; entries beyond it are counted.
const MAX_SHARE: f64 = 0.4;

/// One legend entry: a line sample (dashed or not), or the dot of a scatter.
pub struct Entry<'a> {
    pub label: &'a str,
    pub color: RGBColor,
    pub marker: Option<Marker>,
    pub dashed: bool,
}

/// Entries laid out in columns, and the notes under them.
pub struct Strip<'a> {
    pub entries: Vec<Entry<'a>>,
    pub notes: &'a [String],
    pub font: &'a str,
    columns: usize,
    rows: usize,
}

impl<'a> Strip<'a> {
    /// Lay out `entries` for a picture `width` × `height` pixels wide, measuring with `area`.
    pub fn new<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        entries: Vec<Entry<'a>>,
        notes: &'a [String],
        font: &'a str,
        (width, height): (u32, u32),
    ) -> Strip<'a> {
        let style = TextStyle::from((font, 14).into_font());
        let widest = entries
            .iter()
            .map(|e| {
                area.estimate_text_size(e.label, &style)
                    .map_or(8 * e.label.len() as u32, |s| s.0)
            })
            .max()
            .unwrap_or(0);
        let cell = widest as i32 + SAMPLE + 2 * PAD;
        let columns = ((width as i32 - 2 * PAD) / cell.max(1)).max(1) as usize;
        let max_rows = ((height as f64 * MAX_SHARE) as u32 / ROW).max(1) as usize;
        let rows = entries.len().div_ceil(columns).min(max_rows);
        Strip {
            entries,
            notes,
            font,
            columns,
            rows,
        }
    }

    /// Pixels of height the strip needs.
    pub fn height(&self) -> u32 {
        self.rows as u32 * ROW + self.notes.len() as u32 * NOTE_ROW + 10
    }

    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let (width, _) = area.dim_in_pixel();
        let cell = (width as i32 - 2 * PAD) / self.columns as i32;
        let style = (self.font, 14).into_font();
        let room = self.rows * self.columns;
        let shown = if self.entries.len() > room {
            room.saturating_sub(1)
        } else {
            room
        };
        for (i, entry) in self.entries.iter().take(shown).enumerate() {
            let x = PAD + (i % self.columns) as i32 * cell;
            let y = 4 + (i / self.columns) as i32 * ROW as i32 + ROW as i32 / 2;
            sample(area, entry, x, y)?;
            let pos = (x + SAMPLE + 6, y - 8);
            area.draw(&Text::new(entry.label.to_string(), pos, style.clone()))?;
        }
        if shown < self.entries.len() {
            let i = shown;
            let x = PAD + (i % self.columns) as i32 * cell;
            let y = 4 + (i / self.columns) as i32 * ROW as i32 + ROW as i32 / 2 - 8;
            let more = format!("… and {} more", self.entries.len() - shown);
            area.draw(&Text::new(more, (x, y), style.clone()))?;
        }
        let notes_top = 6 + self.rows as i32 * ROW as i32;
        let note_style = (self.font, 13).into_font().color(&RGBColor(80, 80, 80));
        for (i, note) in self.notes.iter().enumerate() {
            let y = notes_top + i as i32 * NOTE_ROW as i32;
            area.draw(&Text::new(note.clone(), (PAD, y), note_style.clone()))?;
        }
        Ok(())
    }
}

/// The entry's sample at (x, y): its dot, a dashed line or a line.
fn sample<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entry: &Entry,
    x: i32,
    y: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (color, mid) = (entry.color, (x + SAMPLE / 2, y));
    match entry.marker {
        Some(m) => marker::at_pixel(area, m, mid, color),
        None if entry.dashed => {
            for dash in 0..3 {
                let x0 = x + dash * 9;
                let seg = vec![(x0, y), (x0 + 6, y)];
                area.draw(&PathElement::new(seg, color.stroke_width(3)))?;
            }
            Ok(())
        }
        None => area.draw(&PathElement::new(
            vec![(x, y), (x + SAMPLE, y)],
            color.stroke_width(3),
        )),
    }
}
