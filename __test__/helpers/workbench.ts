// VS Code's workbench in headless Chromium, driven by puppeteer-core as a user would drive it:
// one browser page per window, the Command Palette (F1), quick picks. The selectors are those
// of the VS Code that code-server pins (scripts/vscode-host-tools.js); the assertions that matter
// read files instead (the extension host's logs, the SQLite files).
import { writeFileSync } from 'node:fs'

import { alive, extensionHosts, waitFor, type ExtensionHost, type Profile, type Server, type Tools } from './code-server'

/** The parts of puppeteer-core's API used here (it is loaded from the tools' cache folder). */
interface Page {
  goto(url: string): Promise<unknown>
  setViewport(v: { width: number; height: number }): Promise<void>
  setDefaultTimeout(ms: number): void
  waitForSelector(selector: string, options?: { visible?: boolean; timeout?: number }): Promise<unknown>
  evaluate<T, A>(fn: (arg: A) => T, arg: A): Promise<T>
  keyboard: { press(key: string): Promise<void>; type(text: string): Promise<void> }
  screenshot(options?: { path?: string }): Promise<Uint8Array>
  close(): Promise<void>
  isClosed(): boolean
}
interface PuppeteerBrowser {
  newPage(): Promise<Page>
  close(): Promise<void>
  process(): { pid?: number } | null
}
interface Puppeteer {
  launch(options: Record<string, unknown>): Promise<PuppeteerBrowser>
}

export interface Browser {
  pid: number
  newPage(): Promise<Page>
  close(): Promise<void>
}

/** Headless Chromium with a profile in `userDataDir` and `tmp` as its TMPDIR, in a process
 * group of its own. */
export async function launchBrowser(tools: Tools, userDataDir: string, tmp: string): Promise<Browser> {
  const puppeteer = require(tools.puppeteerCore) as Puppeteer
  const browser = await puppeteer.launch({
    executablePath: tools.chromium,
    headless: true,
    userDataDir,
    env: { ...process.env, TMPDIR: tmp },
    // As root there is no sandbox; /dev/shm may be small in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run'],
    protocolTimeout: 180_000,
    timeout: 120_000,
  })
  const pid = browser.process()?.pid
  if (pid === undefined) throw new Error('Chromium started without a pid')
  return {
    pid,
    newPage: () => browser.newPage(),
    async close() {
      await browser.close().catch(() => undefined)
    },
  }
}

/** The text of each row of the open quick input (Command Palette or quick pick). */
function rows(page: Page): Promise<string[]> {
  return page.evaluate(
    () => [...document.querySelectorAll('.quick-input-widget .quick-input-list .monaco-list-row')].map((r) => (r as HTMLElement).getAttribute('aria-label') ?? r.textContent ?? ''),
    undefined,
  )
}

/** One workbench window: a page on the server, and the extension host that serves it. */
export class Window {
  /** The quick input's rows when they were last read, for timeout messages. */
  private lastRows: string[] = []
  /** What the window showed just before it was closed. */
  private lastShot: Uint8Array | undefined

  private constructor(
    readonly label: string,
    readonly page: Page,
    readonly host: ExtensionHost,
  ) {}

  /** Opens `http://<server>/<query>` (`?folder=<dir>` or `?ew=true`) and waits for its
   * workbench and its extension host. */
  static async open(browser: Browser, server: Server, profile: Profile, query: string, label: string): Promise<Window> {
    const before = new Set(extensionHosts(profile).map((h) => h.pid))
    const page = await browser.newPage()
    page.setDefaultTimeout(120_000)
    await page.setViewport({ width: 1280, height: 800 })
    await page.goto(`${server.url}/${query}`)
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 })
    const host = await waitFor(`the extension host of ${label}`, () => extensionHosts(profile).find((h) => !before.has(h.pid) && alive(h.pid)))
    return new Window(label, page, host)
  }

  /** Opens the Command Palette and types `title`; resolves when `title` is the first row, so
   * that Enter runs it. */
  async typeCommand(title: string): Promise<void> {
    await waitFor(`the Command Palette in ${this.label}`, async () => {
      await this.page.keyboard.press('F1')
      return this.page.waitForSelector('.quick-input-widget input', { visible: true, timeout: 3_000 }).then(
        () => true,
        () => false,
      )
    })
    await this.page.keyboard.type(title)
    await waitFor(`"${title}" in the Command Palette of ${this.label}`, async () => {
      this.lastRows = await rows(this.page)
      return this.lastRows[0]?.startsWith(title)
    }, 60_000, () => `rows: ${JSON.stringify(this.lastRows)}`)
  }

  /** Runs the command `title` through the Command Palette. */
  async command(title: string): Promise<void> {
    await this.typeCommand(title)
    await this.page.keyboard.press('Enter')
  }

  /** The rows of the quick pick whose placeholder is `placeholder`, once it shows `count`. */
  async quickPick(placeholder: string, count: number): Promise<string[]> {
    return waitFor(`a quick pick "${placeholder}" of ${count} rows in ${this.label}`, async () => {
      const shown = await this.page.evaluate(() => document.querySelector<HTMLInputElement>('.quick-input-widget input')?.placeholder, undefined)
      this.lastRows = await rows(this.page)
      return shown === placeholder && this.lastRows.length >= count && this.lastRows
    }, 60_000, () => `rows: ${JSON.stringify(this.lastRows)}`)
  }

  /** Types `text` into the open quick pick and picks the one row left. */
  async pick(text: string): Promise<void> {
    await this.page.keyboard.type(text)
    await waitFor(`one row for "${text}" in the quick pick of ${this.label}`, async () => {
      this.lastRows = await rows(this.page)
      return this.lastRows.length === 1 && this.lastRows[0].includes(text)
    }, 60_000, () => `rows: ${JSON.stringify(this.lastRows)}`)
    await this.page.keyboard.press('Enter')
  }

  /** Saves what the window shows (or showed last, once closed) as a PNG; false when there is
   * nothing to save. */
  async screenshot(path: string): Promise<boolean> {
    if (!this.page.isClosed()) await this.page.screenshot({ path })
    else if (this.lastShot !== undefined) writeFileSync(path, this.lastShot)
    else return false
    return true
  }

  /** Closes the page and waits for the server to end the window's extension host (which runs
   * the extensions' deactivate()). */
  async close(): Promise<void> {
    if (!this.page.isClosed()) {
      this.lastShot = await this.page.screenshot()
      await this.page.close()
    }
    await waitFor(`the extension host of ${this.label} (pid ${this.host.pid}) to exit`, () => !alive(this.host.pid))
  }
}
