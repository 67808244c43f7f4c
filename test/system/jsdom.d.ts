// The part of jsdom's API the dashboard journey uses. @types/jsdom is not installed on purpose: it
// pulls the DOM library into every typecheck of the repository, whose `fetch` and `Response`
// types then conflict with Node's in the services' sources.
declare module 'jsdom' {
  interface JsdomOptions {
    runScripts?: 'dangerously' | 'outside-only';
    resources?: 'usable';
    beforeParse?: (window: any) => void;
  }
  export class JSDOM {
    static fromURL(url: string, options?: JsdomOptions): Promise<JSDOM>;
    /** The page's window (a browser window: document, Event, sessionStorage, close()). */
    readonly window: any;
  }
}
