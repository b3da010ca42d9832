// Opens every HTML page of the built site in headless Chromium and reports, for each page:
// a load that fails or a JavaScript error, a page without visible text, an image that did not load,
// and a link to a local file or anchor that does not exist. Links to other sites are counted, not
// fetched (the check runs offline). Exits with 1 if anything is wrong.
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

const problems = [];
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
    images: [...document.images].map((i) => ({ src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0 })),
    links: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
  }));
  if (state.text === 0) problems.push(`${where}: renders no text`);
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
console.log(`site check: ${pages.length} pages, ${images} images, ${links} links (${external} to other sites, not fetched)`);
if (problems.length > 0) {
  console.log(`${problems.length} problems:\n` + problems.slice(0, 100).join('\n'));
  process.exit(1);
}
