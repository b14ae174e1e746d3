/**
 * Differential test against graphite-web itself (Debian's graphite-web, installed by .ci/run): every
 * render function kunai has is evaluated by kunai and by graphite-web's own function library over
 * the same series (both served by a fetch that slices like whisper), and the results must agree:
 * series names, start, step and values. Skipped, and reported as ignored, only where graphite-web
 * is not installed.
 */
import assert from "node:assert/strict";
import { graphiteWeb, hasGraphiteWeb } from "./graphite_web.ts";
import {
  type FetchedSeries,
  matchNames,
  parseGraphiteTime,
  render,
  renderRequest,
  type SeriesSource,
  TargetError,
} from "../../lib/metrics/mod.ts";
import { FUNCTION_NAMES, functionInfo } from "../../lib/metrics/render_functions.ts";
import { seriesByTagNames } from "../../lib/metrics/tags.ts";

const N = null;
const ramp = (n: number, f: (i: number) => number | null) => Array.from({ length: n }, (_, i) => f(i));
const SERIES: Record<string, { start: number; step: number; values: Array<number | null> }> = {
  "web1.cpu.user": { start: 900, step: 10, values: ramp(40, (i) => (i % 7 === 3 ? N : i + 1)) },
  "web1.cpu.system": { start: 900, step: 10, values: ramp(40, (i) => (i % 5 === 0 ? N : (i * 3) % 11)) },
  "web2.cpu.user": { start: 900, step: 10, values: ramp(40, () => 4) },
  "db1.cpu.user": { start: 900, step: 10, values: ramp(40, (i) => 100 + ((i * 37) % 23)) },
  // a counter that wraps at 100 and has a gap
  "ctr.requests": { start: 900, step: 10, values: ramp(40, (i) => (i === 20 ? N : (i * 13) % 100)) },
  "ctr.wrap": { start: 900, step: 10, values: ramp(50, (i) => (i * 13) % 100) },
  "slow.cpu.user": { start: 900, step: 30, values: ramp(14, (i) => (i === 5 ? N : i * 2)) },
  "ctr.sparse": { start: 900, step: 10, values: ramp(40, (i) => (i % 4 === 0 ? i : N)) },
  // negatives, zeros and a gap (absolute, pow, log, divideSeries by 0)
  "neg.gauge": { start: 900, step: 10, values: ramp(40, (i) => (i % 9 === 4 ? N : (i - 20) / 4)) },
  "web10.cpu.user": { start: 900, step: 10, values: ramp(40, (i) => (i % 3 === 0 ? N : 2.5)) },
  "empty.cpu.user": { start: 900, step: 10, values: ramp(40, () => N) },
  // graphite 1.1 tagged series (canonical paths: tags sorted), found by seriesByTag
  "cpu;dc=dc1;host=web1": { start: 900, step: 10, values: ramp(40, (i) => (i % 6 === 2 ? N : i)) },
  "cpu;dc=dc1;host=web2": { start: 900, step: 10, values: ramp(40, (i) => 50 - i) },
  "cpu;dc=dc2;host=db1": { start: 900, step: 10, values: ramp(40, (i) => (i * 7) % 13) },
  "cpu;dc=dc1;env=prod;host=web3": { start: 900, step: 10, values: ramp(40, () => 3) },
  "mem;dc=dc1;host=web1": { start: 900, step: 10, values: ramp(40, (i) => 1000 + i) },
  "disk.used;dc=dc2;host=db1;mount=/var": { start: 900, step: 10, values: ramp(40, (i) => i / 2) },
};
const FROM = 1000;
const UNTIL = 1300;

const TARGETS = [
  "sumSeries(web*.cpu.user)",
  "sumSeries(web1.cpu.*, db1.cpu.user)",
  "averageSeries(web1.cpu.*)",
  "maxSeries(web*.cpu.user)",
  "minSeries(web*.cpu.user, db1.cpu.user)",
  "scale(web1.cpu.user, 2.5)",
  "offset(web1.cpu.system, -1)",
  'alias(web2.cpu.user, "flat")',
  "aliasByNode(web*.cpu.user, 0, 2)",
  "aliasByNode(web1.cpu.user, -1)",
  'summarize(ctr.requests, "1min")',
  'summarize(ctr.requests, "1min", "max")',
  'summarize(ctr.requests, "1min", "avg")',
  'summarize(web1.cpu.user, "30s", "sum", true)',
  "derivative(ctr.requests)",
  "nonNegativeDerivative(ctr.requests)",
  "nonNegativeDerivative(ctr.wrap, 100)", // (graphite-web 1.1.8 fails on a gap with maxValue)
  "perSecond(ctr.requests)",
  "derivative(ctr.sparse)",
  "movingAverage(web1.cpu.user, 3)",
  'movingAverage(web1.cpu.system, "30s")',
  "asPercent(web1.cpu.user, 4)",
  "asPercent(web1.cpu.user, web2.cpu.user)",
  "asPercent(web*.cpu.user)",
  "highestCurrent(web*.cpu.*, 2)",
  "keepLastValue(web1.cpu.system)",
  "keepLastValue(ctr.sparse, 2)",
  "scale(sumSeries(web*.cpu.user), 0.5)",
  'aliasByNode(summarize(web*.cpu.user, "1min", "max"), 0)',
  "sumSeries(scale(web*.cpu.user, 2))",
  "sumSeries(derivative(ctr.*))",
  "averageSeries(keepLastValue(web*.cpu.user))",
  'sumSeries(alias(web2.cpu.user, "x"), web1.cpu.user)',
  "asPercent(sumSeries(web*.cpu.user))",
  "movingAverage(scale(web1.cpu.user, 2), 2)",
  'movingAverage(sumSeries(web*.cpu.user), "1min")',
  // series of different steps are brought to a common one first
  "sumSeries(slow.cpu.user, web1.cpu.user)",
  "averageSeries(slow.cpu.user, web2.cpu.user)",
  "asPercent(web1.cpu.user, slow.cpu.user)",
  "movingAverage(slow.cpu.user, 2)",
  'summarize(slow.cpu.user, "1min", "last")',
  'summarize(web1.cpu.system, "45s", "min")',
  'summarize(constantLine(5), "7s", "max")',
  "perSecond(ctr.wrap, 100)",
  "nonNegativeDerivative(ctr.sparse)",
  "highestCurrent(web*.cpu.*, 5)",
  "keepLastValue(ctr.sparse, 3)",
  "keepLastValue(ctr.sparse, inf)",
  "keepLastValue(ctr.sparse, limit=INF)",
  "offset(scale(web1.cpu.system, -1), 0.5)",
  "aliasByNode(web*.cpu.*, 1, 2)",
  "asPercent(web*.cpu.user, scale(web*.cpu.user, 4))",
  "asPercent(web1.cpu.*, offset(web1.cpu.*, 1))",
  "asPercent(nothing.here, web*.cpu.user)",
  "asPercent(web1.cpu.user, 0.00001)",
  "asPercent(web1.cpu.user, inf)",
  'asPercent(nothing.here, "x")',
  // names graphite-web writes with Python's %g, rates it rounds to 6 decimals, counter bounds
  "scale(web1.cpu.user, 0.00001)",
  "offset(web1.cpu.user, 1234567)",
  "perSecond(neg.gauge)",
  "perSecond(slow.cpu.user)",
  "nonNegativeDerivative(ctr.wrap, minValue=3)", // (graphite-web 1.1.8 fails on a gap with min/maxValue)
  "nonNegativeDerivative(ctr.wrap, maxValue=100, minValue=0)",
  "perSecond(ctr.wrap, maxValue=50)",
  "highestCurrent(web*.cpu.*, -1)",
  // aggregate and its aliases
  'aggregate(web*.cpu.user, "median")',
  'aggregate(web*.cpu.*, "avg_zero")',
  'aggregate(web1.cpu.*, "count")',
  'aggregate(web*.cpu.user, "last")',
  'aggregate(web*.cpu.user, "total")',
  'aggregate(web*.cpu.user, func="rangeOf")',
  "diffSeries(web1.cpu.user, web1.cpu.system)",
  "diffSeries(web*.cpu.user)",
  "diffSeries(slow.cpu.user, web2.cpu.user)",
  "multiplySeries(web1.cpu.user, web2.cpu.user)",
  "multiplySeries(web1.cpu.user)",
  "multiplySeries(web1.cpu.*, neg.gauge)",
  "stddevSeries(web*.cpu.user)",
  "stddevSeries(web1.cpu.*, db1.cpu.user)",
  "rangeOfSeries(web*.cpu.*)",
  "countSeries(web*.cpu.*)",
  "countSeries(web1.cpu.user, slow.cpu.user)",
  "countSeries(nothing.here)",
  "percentileOfSeries(web*.cpu.*, 50)",
  "percentileOfSeries(web*.cpu.*, 90, true)",
  "percentileOfSeries(web*.cpu.user, 100)",
  "percentileOfSeries(web*.cpu.*, n=25.5, interpolate=true)",
  "percentileOfSeries(empty.cpu.user, 50)",
  "divideSeries(web1.cpu.user, web2.cpu.user)",
  "divideSeries(web*.cpu.user, neg.gauge)",
  "divideSeries(web1.cpu.*, slow.cpu.user)",
  "divideSeries(web1.cpu.user, nothing.here)",
  "sumSeries(divideSeries(web1.cpu.*, web2.cpu.user))",
  "sumSeriesWithWildcards(web*.cpu.*, 0)",
  "averageSeriesWithWildcards(*.cpu.user, 0)",
  "sumSeriesWithWildcards(web*.cpu.*, 0, 2)",
  "sumSeriesWithWildcards(web1.cpu.user)",
  "sumSeries(sumSeriesWithWildcards(web*.cpu.*, 0))",
  "groupByNode(*.cpu.*, 2)",
  'groupByNode(*.cpu.*, 2, "sum")',
  'groupByNode(*.cpu.*, 0, "max")',
  'groupByNode(*.cpu.*, -1, "median")',
  'groupByNode(*.cpu.*, 2, "sumSeries")',
  'groupByNode(*.cpu.*, 2, "countSeries")',
  'groupByNode(*.cpu.*, 2, "count")',
  'groupByNode(*.cpu.*, 2, "multiplySeries")',
  'groupByNode(web1.cpu.user, 1, "multiplySeries")',
  'groupByNode(*.cpu.*, 2, callback="diffSeries")',
  'groupByNode(*.cpu.*, 7, "sum")',
  'groupByNode(slow.cpu.user, 0, "avg")',
  'groupByNodes(*.cpu.*, "sum", 0, 2)',
  'groupByNodes(*.cpu.*, "avg")',
  'groupByNodes(scale(web*.cpu.*, 2), "max", 0)',
  'sumSeries(groupByNode(*.cpu.*, 2, "stddev"))',
  // transforms
  "absolute(neg.gauge)",
  "integral(web1.cpu.user)",
  "integral(neg.gauge)",
  "transformNull(web1.cpu.system)",
  "transformNull(web1.cpu.system, -1.5)",
  "transformNull(ctr.sparse, 0, referenceSeries=web1.cpu.user)",
  "transformNull(ctr.sparse, default=7)",
  "transformNull(ctr.sparse, 3, empty.cpu.user)",
  // a referenceSeries of a finer step: as many points as the series has, graphite-web's last ones
  "transformNull(slow.cpu.user, -1, web1.cpu.*)",
  "isNonNull(ctr.sparse)",
  "changed(web2.cpu.user)",
  "changed(ctr.sparse)",
  "changed(neg.gauge)",
  "invert(neg.gauge)",
  "pow(neg.gauge, 2)",
  "pow(neg.gauge, 0.5)",
  "pow(web1.cpu.user, -1)",
  "squareRoot(neg.gauge)",
  "log(web1.cpu.user)",
  "log(neg.gauge, 2)",
  "log(db1.cpu.user, base=3)",
  "delay(web1.cpu.user, 3)",
  "delay(web1.cpu.user, -2)",
  "delay(web1.cpu.user, 0)",
  "delay(web1.cpu.user, 100)",
  "removeAboveValue(web1.cpu.system, 5)",
  "removeBelowValue(neg.gauge, -1.25)",
  "removeBelowValue(web1.cpu.user, 0.00001)",
  "nPercentile(web*.cpu.*, 50)",
  "nPercentile(neg.gauge, 95)",
  "nPercentile(empty.cpu.user, 50)",
  "nPercentile(slow.cpu.user, 100)",
  'consolidateBy(web1.cpu.user, "max")',
  // the consolidation function is what brings a series to a coarser step
  'sumSeries(consolidateBy(web1.cpu.user, "max"), slow.cpu.user)',
  "averageSeries(consolidateBy(web1.cpu.system, 'first'), slow.cpu.user)",
  "divideSeries(consolidateBy(web1.cpu.user, 'sum'), slow.cpu.user)",
  "divideSeries(consolidateBy(web1.cpu.user, 'avg_zero'), slow.cpu.user)",
  "cumulative(web1.cpu.user)",
  'hitcount(web1.cpu.user, "1min")',
  'hitcount(slow.cpu.user, "45s")',
  'hitcount(web1.cpu.user, "25s")',
  'hitcount(web1.cpu.user, "1min", true)',
  'hitcount(slow.cpu.user, "7s")',
  'hitcount(slow.cpu.user, "2min", alignToInterval=true)',
  'timeShift(web1.cpu.user, "1min")',
  'timeShift(web1.cpu.user, "-30s")',
  'timeShift(web1.cpu.user, "+20s")',
  'timeShift(web*.cpu.user, "1min", false)',
  'timeShift(web*.cpu.user, "1min", False)',
  "sortByName(*.cpu.*, True, TRUE)",
  'timeShift(sumSeries(web*.cpu.user), "50s")',
  'timeShift(slow.cpu.user, "1min")',
  'timeShift(web1.cpu.user, "1min30s")',
  'sumSeries(timeShift(web1.cpu.user, "1min"), web1.cpu.user)',
  'movingAverage(timeShift(web1.cpu.user, "30s"), 3)',
  'timeShift(movingAverage(web1.cpu.user, 2), "20s")',
  // picking and ordering series
  "highestAverage(*.cpu.*, 2)",
  "highestMax(*.cpu.*, 3)",
  "lowestCurrent(*.cpu.*, 2)",
  "lowestAverage(*.cpu.*, 3)",
  "limit(*.cpu.*, 2)",
  "limit(*.cpu.*, -2)",
  "currentAbove(*.cpu.*, 4)",
  "currentBelow(*.cpu.*, 4)",
  "averageAbove(*.cpu.*, 10)",
  "averageBelow(*.cpu.*, 5)",
  "maximumAbove(*.cpu.*, 39)",
  "maximumBelow(*.cpu.*, 10)",
  "minimumAbove(*.cpu.*, 1)",
  "minimumBelow(*.cpu.*, 1)",
  'highest(*.cpu.*, 2, "sum")',
  'lowest(*.cpu.*, 2, func="max")',
  'filterSeries(*.cpu.*, "max", ">=", 10)',
  'filterSeries(*.cpu.*, "last", "!=", 4)',
  "removeEmptySeries(*.cpu.*)",
  "removeEmptySeries(*.cpu.*, 0.7)",
  "removeEmptySeries(*.cpu.*, xFilesFactor=1)",
  "sortByName(*.cpu.*)",
  "sortByName(*.cpu.*, true)",
  "sortByName(*.cpu.*, true, true)",
  "sortByName(*.cpu.*, reverse=true)",
  // names
  "aliasByMetric(web*.cpu.*)",
  "aliasByMetric(scale(web1.cpu.user, 2))",
  "aliasByMetric(sumSeries(web1.cpu.*))",
  "aliasByNode(asPercent(web1.cpu.user, sumSeries(web*.cpu.user)), 0)",
  "aliasSub(web*.cpu.user, '^(\\w+)\\.cpu', '\\1')",
  "aliasSub(*.cpu.*, 'cpu', 'CPU')",
  "aliasSub(web1.cpu.*, '(?P<host>[a-z]+)(\\d)', '\\g<host>-\\2')",
  "aliasSub(web1.cpu.user, 'x*', '-')",
  "aliasSub(web1.cpu.user, '(?i)WEB', 'Web')",
  "aliasSub(web1.cpu.user, '\\.', '_')",
  "aliasSub(scale(web1.cpu.user, 2), '^scale\\((.*),2\\)$', 'double \\1')",
  "aliasSub(web1.cpu.user, 'c(p)?u|(user)', '[\\1\\2]')",
  "sumSeries(aliasSub(web*.cpu.user, 'web', 'host'))",
  "grep(*.cpu.*, 'web')",
  "grep(*.cpu.*, '^db|system$')",
  "exclude(*.cpu.*, 'user')",
  "exclude(*.cpu.*, '[0-9]\\.')",
  "constantLine(42)",
  "constantLine(-1.5)",
  "constantLine(0.00001)",
  "threshold(5)",
  'threshold(5, "limit")',
  'threshold(5, "limit", "red")',
  'threshold(5, label="")',
  // graph-only: the series as they are, or renamed as graphite-web renames them
  'color(web1.cpu.user, "red")',
  "lineWidth(web1.cpu.user, 2)",
  "alpha(web1.cpu.user, 0.5)",
  "dashed(web1.cpu.user)",
  "dashed(web1.cpu.user, 3)",
  "secondYAxis(web1.cpu.user)",
  "stacked(web*.cpu.user)",
  "stacked(web*.cpu.user, 'mystack')",
  "sumSeries(dashed(web*.cpu.user))",
  "sumSeries(secondYAxis(web*.cpu.user))",
  // tagged series
  "seriesByTag('name=cpu')",
  'seriesByTag("name=cpu", "dc=dc1")',
  "seriesByTag('dc!=dc1', 'name=~c')",
  "seriesByTag('host=~web[12]')",
  "seriesByTag('name=~^(cpu|mem)$', 'host!=~web2')",
  "seriesByTag('name=~cpu|mem', 'env=')",
  "seriesByTag('name=~cpu|mem', 'env!=')",
  "seriesByTag('name!=cpu', 'dc=~dc')",
  "seriesByTag('mount=/var')",
  "seriesByTag('name=disk.used')",
  "seriesByTag('host=~.*1', 'name!=~^m')",
  "seriesByTag('name=~^c|d')",
  "seriesByTag('name=~.*u', 'host=~^w')",
  "seriesByTag('name=web1.cpu.user')",
  "seriesByTag('name=nothing')",
  "seriesByTag( 'name=cpu' ,'dc=dc2' )",
  "sumSeries(seriesByTag('name=cpu'))",
  "sumSeries(seriesByTag('name=cpu', 'dc=dc1'), seriesByTag('name=mem'))",
  "scale(seriesByTag('name=cpu', 'dc=dc2'), 3)",
  "aliasByTags(seriesByTag('name=cpu'), 'host', 'dc')",
  "aliasByTags(seriesByTag('name=cpu'), 'name', 0)",
  "aliasByTags(seriesByTag('name=disk.used'), 1, 'mount', -1, 5)",
  "aliasByNode(seriesByTag('name=cpu'), 'host')",
  "aliasByNode(scale(seriesByTag('name=cpu'), 2), 'host')",
  "aliasByNode(sumSeries(seriesByTag('name=cpu', 'dc=dc1')), 'dc', 'name', 'host')",
  "aliasByTags(averageSeries(seriesByTag('name=cpu')), 'name', 'aggregatedBy')",
  "aliasByTags(aggregate(seriesByTag('dc=dc1'), 'max'), 'name', 'dc', 'aggregatedBy')",
  "aliasByNode(web1.cpu.user, 'name')",
  "aliasByNode(web1.cpu.user, 'nosuch', 1)",
  "aliasByNode(web1.cpu.user, 7)",
  "groupByTags(seriesByTag('name=cpu'), 'sum', 'dc')",
  "groupByTags(seriesByTag('dc=dc1'), 'average', 'host')",
  "groupByTags(seriesByTag('dc=dc1'), 'sumSeries', 'name', 'host')",
  "groupByTags(seriesByTag('dc=~dc'), 'max', 'dc', 'name')",
  "groupByTags(seriesByTag('name=cpu'), 'countSeries', 'dc')",
  "sumSeries(groupByTags(seriesByTag('name=cpu'), 'sum', 'dc'))",
  "aliasByTags(groupByTags(seriesByTag('name=cpu'), 'sum', 'dc'), 'dc', 'aggregatedBy')",
  "groupByNodes(seriesByTag('name=cpu'), 'max', 'dc')",
  "groupByNode(seriesByTag('name=cpu'), 'dc', 'sum')",
  "groupByNodes(seriesByTag('name=~cpu|mem'), 'sum', 'dc', 0)",
  "cpu;dc=dc1;host=web1",
  "sumSeries(cpu;dc=dc1;host=web1, web1.cpu.user)",
  "cpu;host=web1;dc=dc1",
  "movingAverage(seriesByTag('name=cpu', 'dc=dc2'), 3)",
  "timeShift(seriesByTag('name=mem'), '1min')",
  "highestMax(seriesByTag('dc=dc1'), 2)",
  "aliasSub(seriesByTag('name=cpu', 'dc=dc1'), ';dc=dc1', '')",
  // the tags an aggregate has: those its inputs share, name and aggregatedBy
  "aliasByTags(sumSeries(seriesByTag('dc=dc1')), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(averageSeries(seriesByTag('dc=dc1')), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(maxSeries(seriesByTag('dc=dc1')), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(minSeries(seriesByTag('dc=dc1')), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(aggregate(seriesByTag('dc=dc1'), 'avg'), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(aggregate(seriesByTag('dc=dc1'), 'total'), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(aggregate(seriesByTag('dc=dc1'), 'last'), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(diffSeries(seriesByTag('dc=dc1')), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(multiplySeries(seriesByTag('dc=dc1')), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(countSeries(seriesByTag('dc=dc1')), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(rangeOfSeries(seriesByTag('dc=dc1')), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(groupByNode(seriesByTag('dc=dc1'), 'host', 'sum'), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(groupByNodes(seriesByTag('dc=dc1'), 'avg', 'host'), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(groupByNodes(seriesByTag('dc=dc1'), 'sumSeries', 'name'), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(percentileOfSeries(seriesByTag('dc=dc1'), 50), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(sumSeries(seriesByTag('dc=dc1'), web1.cpu.user), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(averageSeries(seriesByTag('name=cpu')), 'name', 'dc', 'aggregatedBy')",
  "aliasByTags(groupByTags(seriesByTag('dc=dc1'), 'max', 'host'), 'name', 'dc', 'aggregatedBy')",
  // the tags a series keeps (or gets) through every function
  "aliasByTags(scale(seriesByTag('name=cpu', 'dc=dc2'), 2), 'dc', 'name')",
  "aliasByTags(offset(seriesByTag('name=cpu', 'dc=dc2'), 1), 'dc', 'name')",
  "aliasByTags(absolute(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(integral(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(invert(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(pow(seriesByTag('name=cpu', 'dc=dc2'), 2), 'dc', 'name')",
  "aliasByTags(squareRoot(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(log(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(derivative(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(nonNegativeDerivative(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(perSecond(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(delay(seriesByTag('name=cpu', 'dc=dc2'), 1), 'dc', 'name')",
  "aliasByTags(summarize(seriesByTag('name=cpu', 'dc=dc2'), '1min'), 'dc', 'name')",
  "aliasByTags(hitcount(seriesByTag('name=cpu', 'dc=dc2'), '1min'), 'dc', 'name')",
  "aliasByTags(timeShift(seriesByTag('name=cpu', 'dc=dc2'), '1min'), 'dc', 'name')",
  "aliasByTags(keepLastValue(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(transformNull(seriesByTag('name=cpu', 'dc=dc2'), 0), 'dc', 'name')",
  "aliasByTags(isNonNull(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(movingAverage(seriesByTag('name=cpu', 'dc=dc2'), 2), 'dc', 'name')",
  "aliasByTags(nPercentile(seriesByTag('name=cpu', 'dc=dc2'), 50), 'dc', 'name')",
  "aliasByTags(highestCurrent(seriesByTag('name=cpu', 'dc=dc2'), 1), 'dc', 'name')",
  "aliasByTags(limit(seriesByTag('name=cpu', 'dc=dc2'), 1), 'dc', 'name')",
  "aliasByTags(removeEmptySeries(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(removeBelowValue(seriesByTag('name=cpu', 'dc=dc2'), 1), 'dc', 'name')",
  "aliasByTags(sortByName(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(consolidateBy(seriesByTag('name=cpu', 'dc=dc2'), 'max'), 'dc', 'name')",
  "aliasByTags(cumulative(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(changed(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(alias(seriesByTag('name=cpu', 'dc=dc2'), 'a'), 'dc', 'name')",
  "aliasByTags(aliasSub(seriesByTag('name=cpu', 'dc=dc2'), 'c', 'C'), 'dc', 'name')",
  "aliasByTags(aliasByMetric(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(dashed(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(secondYAxis(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(stacked(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(asPercent(seriesByTag('name=cpu', 'dc=dc2'), 10), 'dc', 'name')",
  "aliasByTags(divideSeries(seriesByTag('name=cpu', 'dc=dc2'), web2.cpu.user), 'dc', 'name')",
  "aliasByTags(exclude(seriesByTag('name=cpu', 'dc=dc2'), 'zz'), 'dc', 'name')",
  "aliasByTags(grep(seriesByTag('name=cpu', 'dc=dc2'), 'c'), 'dc', 'name')",
  "aliasByTags(color(seriesByTag('name=cpu', 'dc=dc2'), 'red'), 'dc', 'name')",
  "aliasByTags(filterSeries(seriesByTag('name=cpu', 'dc=dc2'), 'max', '>', -1), 'dc', 'name')",
  "aliasByTags(groupByNode(seriesByTag('name=cpu', 'dc=dc2'), 'host', 'max'), 'dc', 'name')",
  "aliasByTags(percentileOfSeries(seriesByTag('name=cpu', 'dc=dc2'), 50), 'dc', 'name')",
  "aliasByTags(multiplySeries(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(countSeries(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(diffSeries(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
  "aliasByTags(aggregate(seriesByTag('name=cpu', 'dc=dc2'), 'median'), 'dc', 'name')",
  "aliasByTags(stddevSeries(seriesByTag('name=cpu', 'dc=dc2')), 'dc', 'name')",
];

/** Targets graphite-web itself refuses (ENFORCE_INPUT_VALIDATION, or its own error): kunai answers 400. */
const REFUSED = [
  "seriesByTag('dc!=dc1')",
  "seriesByTag('env=', 'name!=cpu')",
  "seriesByTag('nonsense')",
  "seriesByTag('name=~(')",
  // Python's re refuses a flag after the `^(` graphite puts in front
  "seriesByTag('name=~(?i)CPU')",
  "seriesByTag()",
  "groupByTags(seriesByTag('name=cpu'), 'sum', 'env')",
  "percentileOfSeries(web*.cpu.*, 0)",
  "percentileOfSeries(web*.cpu.*, 150)",
  "nPercentile(web1.cpu.user, 0)",
  "nPercentile(web1.cpu.user, 101)",
  "divideSeries(web1.cpu.user, web*.cpu.user)",
  "log(web1.cpu.user, 1)",
  "log(web1.cpu.user, 2.5)",
  'limit(web1.cpu.user, "x")',
  'aggregate(web1.cpu.user, "nosuch")',
  'aggregate(web1.cpu.user, "sumSeries")',
  'aggregate(web1.cpu.user, slow.cpu.user, "stddev")',
  'groupByNode(web1.cpu.user, 1, "nosuch")',
  'groupByNode(web1.cpu.user, 1, "medianSeries")',
  'consolidateBy(web1.cpu.user, "median")',
  'hitcount(web1.cpu.user, "0s")',
  'hitcount(web1.cpu.user, "bogus")',
  'timeShift(web1.cpu.user, "1x")',
  "delay(web1.cpu.user, 1.5)",
  "grep(web1.cpu.user, '(')",
  "grep(web1.cpu.user, 'a**')",
  "exclude(web1.cpu.user, '[z-a]')",
  "aliasSub(web1.cpu.user, 'a', '\\2')",
  "aliasSub(web1.cpu.user, '\\q', 'x')",
  "aliasSub(web1.cpu.user, 'w', '\\q')",
  "aliasSub(web1.cpu.user, '(?P<a>w)', '\\g<b>')",
  "sortByName(web1.cpu.user, 5)",
  "scale(web1.cpu.user)",
  "alias(web1.cpu.user, 'a', 'b')",
  "sumSeries(web1.cpu.user, foo=1)",
  'removeBelowValue(web1.cpu.user, "x")',
  "transformNull(web1.cpu.user, referenceSeries=3)",
  'constantLine("x")',
  "threshold()",
  "highestCurrent(web1.cpu.user)",
  "nosuchFunction(web1.cpu.user)",
];

/** Serves SERIES sliced as whisper does: from the step after `from` to the step after `until`. */
const source: SeriesSource = {
  fetch(pattern: string, from: number, until: number): Promise<FetchedSeries[]> {
    const names = Object.keys(SERIES).sort();
    return Promise.resolve(
      (seriesByTagNames(pattern, names) ?? matchNames(pattern, names)).map((name) => {
        const s = SERIES[name];
        const lo = from - (from % s.step) + s.step;
        const hi = until - (until % s.step) + s.step;
        const values: Array<number | null> = [];
        for (let t = lo; t < hi; t += s.step) values.push(s.values[(t - s.start) / s.step] ?? null);
        return { name, start: lo, end: hi, step: s.step, values };
      }),
    );
  },
};

const hasGraphite = hasGraphiteWeb("graphite.render.evaluator");

interface Out {
  name: string;
  start: number;
  step: number;
  values: Array<number | null>;
}

const close = (a: number | null, b: number | null) =>
  a === null || b === null ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

Deno.test({
  name: "Graphite functions compute what graphite-web computes (names, start, step, values)",
  ignore: !hasGraphite,
  async fn() {
    const expected = await graphiteWeb({
      from: FROM,
      until: UNTIL,
      series: SERIES,
      targets: TARGETS,
    }) as Record<string, Out[] | string>;
    const diffs: string[] = [];
    for (const target of TARGETS) {
      const want = expected[target];
      if (!Array.isArray(want)) {
        diffs.push(`${target}: graphite-web itself failed: ${want}`);
        continue;
      }
      const req = renderRequest(
        new URLSearchParams({ target, from: String(FROM), until: String(UNTIL) }),
        UNTIL,
      );
      let rendered;
      try {
        rendered = await render(req, source);
      } catch (err) {
        diffs.push(`${target}: kunai failed: ${err}`);
        continue;
      }
      const got: Out[] = rendered.map((s) => ({
        name: s.name,
        start: s.start,
        step: s.step,
        values: s.values,
      }));
      const same = got.length === want.length &&
        got.every((g, i) =>
          g.name === want[i].name && g.start === want[i].start && g.step === want[i].step &&
          g.values.length === want[i].values.length && g.values.every((v, j) => close(v, want[i].values[j]))
        );
      if (!same) {
        diffs.push(
          `${target}:\n  graphite-web: ${JSON.stringify(want)}\n  kunai:        ${JSON.stringify(got)}`,
        );
      }
    }
    assert.equal(
      diffs.length,
      0,
      `${diffs.length} of ${TARGETS.length} targets differ:\n${diffs.join("\n")}`,
    );
  },
});

Deno.test({
  name: "what graphite-web refuses kunai refuses too, with a 400 naming the function",
  ignore: !hasGraphite,
  async fn() {
    const expected = await graphiteWeb({
      from: FROM,
      until: UNTIL,
      series: SERIES,
      targets: REFUSED,
    }) as Record<
      string,
      Out[] | string
    >;
    const wrong: string[] = [];
    for (const target of REFUSED) {
      assert.equal(
        typeof expected[target],
        "string",
        `${target}: graphite-web answered ${JSON.stringify(expected[target])}`,
      );
      const req = renderRequest(
        new URLSearchParams({ target, from: String(FROM), until: String(UNTIL) }),
        UNTIL,
      );
      try {
        const got = await render(req, source);
        wrong.push(`${target}: kunai answered ${JSON.stringify(got.map((s) => s.name))}`);
      } catch (err) {
        if (!(err instanceof TargetError) || !err.message.includes(target.slice(0, target.indexOf("(")))) {
          wrong.push(`${target}: ${err}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  },
});

/**
 * Where kunai's parameters differ from graphite-web's on purpose: what it does not implement is
 * left out (a 400 if given), never accepted and ignored.
 */
const PARAMS_DIFFER: Record<string, string> = {
  summarize: "func takes sum, avg, average, max, min and last only",
  movingAverage: "no xFilesFactor",
  asPercent: "no nodes (grouping by node)",
  aggregate: "no xFilesFactor",
  timeShift: "no alignDst (kunai's times are UTC)",
  groupByNode: "callback takes the aggregations and the aggregating functions kunai has",
  groupByNodes: "callback takes the aggregations and the aggregating functions kunai has",
  groupByTags: "callback takes the aggregations and the aggregating functions kunai has",
};

Deno.test({
  name: "every function kunai lists in /functions has graphite-web's group and parameters",
  ignore: !hasGraphite,
  async fn() {
    const expected = await graphiteWeb({ functions: FUNCTION_NAMES, series: {} }) as Record<
      string,
      { group: string; params: Array<Record<string, unknown>> } | null
    >;
    const diffs: string[] = [];
    for (const name of FUNCTION_NAMES) {
      const want = expected[name];
      const got = functionInfo(name)!;
      if (!want) {
        diffs.push(`${name}: not a graphite-web function`);
        continue;
      }
      if (got.group !== want.group) diffs.push(`${name}: group ${got.group}, graphite-web ${want.group}`);
      if (Object.hasOwn(PARAMS_DIFFER, name)) continue;
      const strip = (ps: Array<Record<string, unknown>>) =>
        JSON.stringify(ps.map(({ suggestions: _, ...p }) => p));
      if (strip(got.params) !== strip(want.params)) {
        diffs.push(`${name}:\n  kunai        ${strip(got.params)}\n  graphite-web ${strip(want.params)}`);
      }
    }
    assert.deepEqual(diffs, []);
  },
});

const NAMES = [
  "web1.cpu.user",
  "web2.cpu.user",
  "web10.cpu.user",
  "webA.cpu.user",
  "db1.cpu.user",
  "db1.cpu.system",
  "db1.disk.sda.read",
  "web1.disk.sda.read",
  "web1.disk.sdb.write",
  "a-b.x_y.z",
  "a.b",
  "a.b.c",
];
const GLOBS = [
  "*.cpu.user",
  "web*.cpu.*",
  "web?.cpu.user",
  "web[12].cpu.user",
  "web[!1].cpu.user",
  "web[0-9].cpu.user",
  "web[0-9]*.cpu.user",
  "{web,db}1.cpu.*",
  "{web,db}1.{cpu,disk}.*",
  "*.disk.sd?.*",
  "*.disk.{sda,sdb}.{read,write}",
  "web1.*.*.*",
  "*",
  "*.*",
  "a*.*",
  "a-b.x_y.*",
  "{a,a-b}.*",
  "*{1,2}.cpu.user",
  "w*1*.cpu.user",
  "web1.cpu.user",
  "nothing.*",
  "*.cpu.[su]*",
];

Deno.test({
  name: "path wildcards match what graphite-web's finder matches (*, ?, [..], [!..], {a,b})",
  ignore: !hasGraphite,
  async fn() {
    const expected = await graphiteWeb({ names: NAMES, globs: GLOBS, series: {} }) as Record<
      string,
      string[]
    >;
    const diffs = GLOBS.flatMap((g) => {
      const got = [...matchNames(g, NAMES)].sort();
      return JSON.stringify(got) === JSON.stringify(expected[g])
        ? []
        : [`${g}: graphite-web ${JSON.stringify(expected[g])}, kunai ${JSON.stringify(got)}`];
    });
    assert.deepEqual(diffs, []);
  },
});

const TIMES = [
  "now",
  "-24h",
  "-7d",
  "-30min",
  "-1w",
  "-2mon",
  "-1y",
  "-10s",
  "-5minutes",
  "-3hours",
  "-2days",
  "-1weeks",
  "-1months",
  "-1years",
  "-90s",
  "-0s",
  "-1sec",
  "-2min",
  "+1h",
  " -4h ",
  "1700000000",
  "20261204",
  "12:00_20261204",
  "00:05_20261231",
  "9:30_20260101",
  // forms graphite-web knows and kunai does not: a clear error here, never another time
  "today",
  "yesterday",
  "midnight",
  "noon",
  "now-1h",
  "-1d6h",
];

Deno.test({
  name: "from/until read the same instant as graphite-web's parseATTime, or are refused",
  ignore: !hasGraphite,
  async fn() {
    const now = 1764892800; // 2025-12-05 00:00:00 UTC
    const expected = await graphiteWeb({ now, times: TIMES, series: {} }) as Record<
      string,
      number | string
    >;
    const diffs: string[] = [];
    let refused = 0;
    for (const text of TIMES) {
      let got: number | string;
      try {
        got = parseGraphiteTime(text, now, "from");
      } catch (err) {
        got = `refused: ${(err as Error).message}`;
        refused++;
        continue; // a refusal is a 400 naming the parameter: allowed, a different instant is not
      }
      if (got !== expected[text]) {
        diffs.push(`${JSON.stringify(text)}: graphite-web ${expected[text]}, kunai ${got}`);
      }
    }
    assert.deepEqual(diffs, []);
    assert.ok(refused <= 6, `${refused} forms refused: the supported ones must parse`);
  },
});
