// Opens every HTML page of the built site in headless Chromium and reports, for each page:
// a load that fails or a JavaScript error, a page without visible text, an image that did not load,
// a link to a local file or anchor that does not exist, and a page without the licence footer or
// with "All rights reserved". On the guides (pages whose body has the class "guide") it also checks
// the layout: the sidebar has the same width on every guide, no code block is cut off (a block wider
// than its box scrolls), the page itself is not wider than the window, and every code block in
// java, xml, yaml, bash or python is highlighted. Links to other sites are counted, not fetched (the
// check runs offline). Exits with 1 if anything is wrong.
import { chromium } from 'playwright-core';
import { readdirSync, statSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve, relative, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(process.argv[2] ?? '.');
const pages = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.html')) pages.push(path);
  }
})(root);

const LICENCE = 'licensed under the Apache License 2.0';
const HIGHLIGHTED = ['java', 'xml', 'yaml', 'bash', 'python'];
const problems = [];
const sidebars = [];
const code = { blocks: 0, scrolling: new Set(), highlighted: 0 };
// the guides are measured in a wide and in a narrow window (above the width where the menu moves on top)
const WIDTHS = [1280, 820];
const HEIGHT = 720;
const anchorsOf = new Map();
function hasAnchor(file, id) {
  if (!anchorsOf.has(file)) {
    const html = readFileSync(file, 'utf8');
    const ids = new Set();
    for (const m of html.matchAll(/\s(?:id|name)\s*=\s*"([^"]*)"/g)) ids.add(unescapeHtml(m[1]));
    anchorsOf.set(file, ids);
  }
  return anchorsOf.get(file).has(decodeURIComponent(id));
}

function unescapeHtml(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

// the guides' layout, measured in the page: the sidebar, the page's width, every code block
function layout(highlighted) {
  return {
    sidebar: document.querySelector('nav')?.getBoundingClientRect().width ?? 0,
    pageWidth: document.documentElement.scrollWidth,
    window: document.documentElement.clientWidth,
    blocks: [...document.querySelectorAll('pre')].map((pre, i) => {
      const language = (pre.querySelector('code')?.className.match(/language-(\w+)/) ?? [])[1] ?? '';
      // the block and what it holds: what overflows must scroll, not be clipped
      const boxes = [pre, ...pre.querySelectorAll('*')]
        .filter((e) => e.scrollWidth > e.clientWidth).map((e) => getComputedStyle(e).overflowX);
      return {
        name: `code block ${i + 1}${language ? ` (${language})` : ''}`,
        overflow: getComputedStyle(pre).overflowX,
        clipped: boxes.some((o) => o === 'hidden' || o === 'clip'),
        scrolls: boxes.some((o) => o === 'auto' || o === 'scroll'),
        right: pre.getBoundingClientRect().right,
        mustHighlight: highlighted.includes(language),
        spans: pre.querySelectorAll('span[class^="hljs-"]').length,
      };
    }),
  };
}

function checkLayout(where, width, state, countBlocks) {
  sidebars.push({ where, width, sidebar: state.sidebar });
  const at = `${where} at ${width}px`;
  if (state.pageWidth > state.window) {
    problems.push(`${at}: the page is ${state.pageWidth}px wide in a ${state.window}px window`);
  }
  for (const block of state.blocks) {
    if (block.overflow !== 'auto' && block.overflow !== 'scroll') {
      problems.push(`${at}: ${block.name} has overflow-x ${block.overflow}, not auto or scroll: `
        + 'a long line is cut off or widens the page');
    }
    if (block.clipped) problems.push(`${at}: ${block.name} cuts off a line that does not fit`);
    else if (block.scrolls) code.scrolling.add(`${where} ${block.name}`);
    if (block.right > state.window) problems.push(`${at}: ${block.name} ends outside the window`);
    if (countBlocks) {
      code.blocks++;
      if (block.mustHighlight && block.spans === 0) problems.push(`${where}: ${block.name} is not highlighted`);
      else if (block.mustHighlight) code.highlighted++;
    }
  }
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'] });
const page = await browser.newPage();
let external = 0;
let links = 0;
let images = 0;
for (const file of pages) {
  const where = relative(root, file);
  const errors = [];
  const onError = (e) => errors.push(String(e));
  const onConsole = (m) => { if (m.type() === 'error') errors.push(m.text()); };
  const onFailed = (r) => errors.push(`cannot load ${r.url()}: ${r.failure()?.errorText}`);
  page.on('pageerror', onError);
  page.on('console', onConsole);
  page.on('requestfailed', onFailed);
  try {
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  } catch (e) {
    problems.push(`${where}: does not load: ${e.message}`);
    continue;
  } finally {
    page.off('pageerror', onError);
    page.off('console', onConsole);
    page.off('requestfailed', onFailed);
  }
  for (const e of errors) problems.push(`${where}: ${e}`);
  const state = await page.evaluate(() => ({
    text: document.body ? document.body.innerText.trim().length : 0,
    bodyText: document.body ? document.body.innerText : '',
    images: [...document.images].map((i) => ({ src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0 })),
    links: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
    guide: document.body !== null && document.body.classList.contains('guide'),
  }));
  if (state.text === 0) problems.push(`${where}: renders no text`);
  if (!state.bodyText.includes(LICENCE)) problems.push(`${where}: no licence footer ("${LICENCE}")`);
  if (/all rights reserved/i.test(state.bodyText)) problems.push(`${where}: says "All rights reserved"`);
  if (state.guide) {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: HEIGHT });
      checkLayout(where, width, await page.evaluate(layout, HIGHLIGHTED), width === WIDTHS[0]);
    }
    await page.setViewportSize({ width: WIDTHS[0], height: HEIGHT });
  }
  for (const image of state.images) {
    images++;
    if (!image.ok) problems.push(`${where}: image ${image.src} did not load`);
  }
  // a page that redirects (javadoc's overview-summary.html) is checked where it lands
  const shown = fileURLToPath(page.url().split('#')[0]);
  for (const href of state.links) {
    links++;
    if (/^(https?:|mailto:|javascript:)/.test(href)) { external++; continue; }
    const [path, fragment] = href.split('#');
    const target = path === '' ? shown : resolve(dirname(shown), decodeURIComponent(path.split('?')[0]));
    if (!existsSync(target)) { problems.push(`${where}: broken link ${href}`); continue; }
    if (fragment && target.endsWith('.html') && !hasAnchor(target, fragment)) {
      problems.push(`${where}: link ${href}: no anchor "${fragment}" in ${relative(root, target)}`);
    }
  }
}
await browser.close();
const sidebar = [];
for (const width of WIDTHS) {
  const measured = sidebars.filter((s) => s.width === width);
  const distinct = [...new Set(measured.map((s) => s.sidebar))];
  if (distinct.length > 1) {
    problems.push(`the sidebar width differs between guides at ${width}px: `
      + measured.map((s) => `${s.where} ${s.sidebar}px`).join(', '));
  }
  if (distinct.length > 0) sidebar.push(`${distinct.join('/')}px at ${width}px`);
}
console.log(`site check: ${pages.length} pages, ${images} images, ${links} links (${external} to other sites, not fetched)`);
console.log(`site check: ${sidebars.length / WIDTHS.length} guides, sidebar ${sidebar.join(', ')}; `
  + `${code.blocks} code blocks, ${code.highlighted} highlighted, ${code.scrolling.size} scrolling sideways (a line wider than the block)`);
if (problems.length > 0) {
  console.log(`${problems.length} problems:\n` + problems.slice(0, 100).join('\n'));
  process.exit(1);
}
