/**
 * The layout check: in the browser, walks every chart's Vega scenegraph (the views the page keeps
 * in `window.reportViews`) and reports what a reader would see as broken: a data mark drawn outside
 * its plot area (a bar or line running past the right edge), and an axis without a title or whose
 * title names no unit. Runs as page script text (not a serialised function, which a bundler may
 * rewrite), from checkReportInBrowser.
 */

/** A unit an axis title must name, in parentheses: "executions per second", "(ticks)", "(% of windows)". */
export const AXIS_UNITS = ['cost units', 'executions', 'per second', 'ticks', 'ms', '%', '×', 'UTC', 'query id'];

/** Pixels an item's position may lie past its plot (rounding); strokes and point radii are not counted. */
const TOLERANCE_PX = 0.5;

/** Every titled axis drawn, by chart: where it sits and its title. */
export interface DrawnAxis {
  chart: string;
  orient: string;
  title: string | null;
}

export interface LayoutCheck {
  problems: string[];
  axes: DrawnAxis[];
}

/** Page script: evaluates to a LayoutCheck. */
export function layoutCheckScript(): string {
  return `(function () {
  var units = ${JSON.stringify(AXIS_UNITS)};
  var tol = ${TOLERANCE_PX};
  var problems = [];
  var axes = [];
  var views = window.reportViews || {};
  function hasUnit(text) {
    var m = /\\(([^)]*)\\)/.exec(text || '');
    if (!m) return false;
    for (var i = 0; i < units.length; i++) if (m[1].indexOf(units[i]) >= 0) return true;
    return false;
  }
  function children(item) { return item.items || []; }
  function titleOf(axisItem) {
    var found = null;
    children(axisItem).forEach(function (m) {
      if (m.role === 'axis-title' && m.items && m.items[0]) found = String(m.items[0].text || '');
    });
    return found;
  }
  function isGridOnly(axisItem) {
    return children(axisItem).every(function (m) { return m.role === 'axis-grid'; });
  }
  function checkAxes(id, mark, where) {
    (mark.items || []).forEach(function (axis) {
      if (isGridOnly(axis)) return;
      var title = titleOf(axis);
      var orient = axis.orient || (axis.datum && axis.datum.orient) || '?';
      axes.push({ chart: id, orient: orient, title: title });
      if (!title) problems.push(id + ': ' + where + ' ' + orient + ' axis has no title');
      else if (!hasUnit(title)) problems.push(id + ': ' + where + ' ' + orient + ' axis title "' + title + '" names no unit');
    });
  }
  // One plot area: a group item of a view (the root frame of a single view, a concatenated view's
  // scope, a facet's cell) with its own width and height.
  function checkPlot(id, plot, where) {
    children(plot).forEach(function (mark) {
      if (mark.role !== 'mark' || mark.marktype === 'group' || mark.marktype === 'text' || mark.clip) return;
      var outside = 0;
      var first = null;
      (mark.items || []).forEach(function (it) {
        // Where the data puts the item (not its bounds, which include the stroke and line joins).
        if (typeof it.x !== 'number' || typeof it.y !== 'number') return;
        var xb = mark.marktype === 'rect' ? it.x + (it.width || 0) : (typeof it.x2 === 'number' ? it.x2 : it.x);
        var yb = mark.marktype === 'rect' ? it.y + (it.height || 0) : (typeof it.y2 === 'number' ? it.y2 : it.y);
        var x1 = Math.min(it.x, xb), x2 = Math.max(it.x, xb), y1 = Math.min(it.y, yb), y2 = Math.max(it.y, yb);
        if (x1 < -tol || y1 < -tol || x2 > plot.width + tol || y2 > plot.height + tol) {
          outside++;
          if (!first) first = '[' + [x1, y1, x2, y2].map(Math.round).join(', ') + ']';
        }
      });
      if (outside > 0) {
        problems.push(id + ': ' + where + ' ' + mark.marktype + ' mark ' + (mark.name || '') + ': ' + outside +
          ' item(s) outside the plot area (' + Math.round(plot.width) + '×' + Math.round(plot.height) + ' px), first ' + first);
      }
    });
  }
  // Axes anywhere (a facet draws them in its header and footer groups, not in the cells).
  function walk(id, node, where) {
    if (!node) return;
    if (node.role === 'axis') return checkAxes(id, node, where);
    if (node.marktype === 'group') {
      (node.items || []).forEach(function (item, i) {
        var isPlot = /^(frame|scope|cell)$/.test(node.role) && item.width > 0 && item.height > 0;
        var here = (node.name || node.role) + (node.items.length > 1 ? '[' + i + ']' : '');
        if (isPlot) checkPlot(id, item, here);
        children(item).forEach(function (m) { walk(id, m, here); });
      });
    }
  }
  Object.keys(views).forEach(function (id) { walk(id, views[id].scenegraph().root, 'root'); });
  return { problems: problems, axes: axes };
})()`;
}
