/**
 * Where samples come from: a folder of images whose file names are the labels, or a
 * PaddleOCR-style label file.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join } from 'node:path';
import { DataError } from './errors.js';
import { foldCase } from './preprocess.js';

/** One labelled image on disk. */
export interface Sample {
  /** The image file (joined onto the folder or label file's folder it came from). */
  path: string;
  /** The text the image shows, as found (before any case folding). */
  label: string;
}

/** Image file extensions listFolder takes (compared case-insensitively). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

/** Code-unit order: the same on every machine and locale (localeCompare is not). */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The label a file name carries: the name without its extension, cut at the first '_' when
 * there is one (`12dd_c2979.jpg` -> `12dd`, `226md.png` -> `226md`).
 */
export function labelFromFileName(name: string): string {
  const ext = extname(name);
  const stem = ext ? name.slice(0, -ext.length) : name;
  const cut = stem.indexOf('_');
  return cut >= 0 ? stem.slice(0, cut) : stem;
}

/**
 * Every image file (.png .jpg .jpeg, any case) directly in `dir` (not recursive), sorted by
 * file name (code-unit order) so that runs are repeatable. The label is the file name without
 * its extension, cut at the first '_' (see labelFromFileName).
 *
 * `ignored` lists, as paths, every other entry of the folder: non-image files, sub-folders
 * (with a trailing '/'), and image files whose label would be empty (e.g. `_x.png`).
 *
 * Throws DataError when `dir` is missing, is not a folder, or holds no image file at all.
 */
export function listFolder(dir: string): { samples: Sample[]; ignored: string[] } {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) {
      throw new DataError(`listFolder: expected a folder of images at '${dir}', found a file`);
    }
    names = readdirSync(dir);
  } catch (e) {
    if (e instanceof DataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(
      `listFolder: expected a folder of images at '${dir}', found ${code === 'ENOENT' ? 'nothing (no such folder)' : `an error: ${(e as Error).message}`}`,
    );
  }
  names.sort(byName);
  const samples: Sample[] = [];
  const ignored: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let isFile = true;
    try {
      isFile = statSync(path).isFile();
    } catch {
      isFile = false; // a dangling link
    }
    if (!isFile) {
      ignored.push(`${path}/`);
      continue;
    }
    const ext = extname(name).toLowerCase();
    const label = labelFromFileName(name);
    if (!IMAGE_EXTENSIONS.includes(ext) || label === '') {
      ignored.push(path);
      continue;
    }
    samples.push({ path, label });
  }
  if (samples.length === 0) {
    const shown = ignored.slice(0, 5).join(', ');
    throw new DataError(
      `listFolder: expected image files (${IMAGE_EXTENSIONS.join(' ')}) in folder '${dir}', found none` +
        (ignored.length ? ` (${ignored.length} other entr${ignored.length === 1 ? 'y' : 'ies'}: ${shown}${ignored.length > 5 ? ', ...' : ''})` : ' (the folder is empty)'),
    );
  }
  return { samples, ignored };
}

/**
 * A PaddleOCR recognition label file: one `path<TAB>label` per line, the path relative to the
 * label file's folder unless absolute, the label everything after the first TAB (it may hold
 * spaces). Blank lines are skipped and a trailing '\r' is dropped (CRLF files). A line with no
 * TAB, an empty path or an empty label throws DataError naming the file and the 1-based line
 * number; a missing file throws DataError too. Images are not opened here.
 */
export function readLabelFile(file: string): Sample[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(`readLabelFile: cannot read label file '${file}': ${(e as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // BOM
  const base = dirname(file);
  const out: Sample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    const tab = line.indexOf('\t');
    const where = `${file}:${i + 1}`;
    if (tab < 0) {
      throw new DataError(`readLabelFile: ${where}: expected 'path<TAB>label', found no TAB in '${line.slice(0, 80)}'`);
    }
    const p = line.slice(0, tab).trim();
    const label = line.slice(tab + 1);
    if (p === '') throw new DataError(`readLabelFile: ${where}: expected 'path<TAB>label', found an empty path`);
    if (label === '') throw new DataError(`readLabelFile: ${where}: expected 'path<TAB>label', found an empty label for '${p}'`);
    out.push({ path: isAbsolute(p) ? p : join(base, p), label });
  }
  return out;
}

/**
 * The samples of a folder (labels from file names) or of a PaddleOCR label file, with labels
 * case-folded when asked: what `train --data/--labels/--val` and `eval --data` read.
 */
export function readSamples(path: string, caseFold: 'lower' | 'upper' | null = null): Sample[] {
  // A missing path goes to listFolder, whose error names the folder.
  const isFile = existsSync(path) && !statSync(path).isDirectory();
  const samples = isFile ? readLabelFile(path) : listFolder(path).samples;
  return caseFold ? samples.map((s) => ({ ...s, label: foldCase(s.label, caseFold) })) : samples;
}
