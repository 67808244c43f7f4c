'use strict';
// BENCHMARKS.md's section `name` (between `<!-- name:start -->` and `<!-- name:end -->`) replaced by
// `lines`; a section not written before goes right after the section `after`.
const fs = require('node:fs');
const { join } = require('node:path');

function writeSection(name, lines, after) {
  const file = join(__dirname, '..', '..', 'BENCHMARKS.md');
  const [open, close] = [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`];
  const section = [open, ...lines, close].join('\n');
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf(open);
  const end = text.indexOf(close);
  const anchor = `<!-- ${after}:end -->\n`;
  if (start < 0 && !text.includes(anchor)) throw new Error(`BENCHMARKS.md has neither section ${name} nor ${after}`);
  fs.writeFileSync(file, start >= 0 && end > start ? text.slice(0, start) + section + text.slice(end + close.length) : text.replace(anchor, `${anchor}\n${section}\n`));
  console.log('written to BENCHMARKS.md');
}

module.exports = { writeSection };
