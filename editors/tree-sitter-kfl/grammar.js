/**
 * @file tree-sitter grammar for KFL, the declarative language for ML lifecycles on Kubeflow.
 * @license Apache-2.0
 *
 * Follows ../shared/design/LANGUAGE.md (the product spec) and grammar/kfl.pest.
 *
 * Layout: newlines are plain whitespace (extras); entries of `{ }` and top-level
 * declarations are separated by an optional comma. This accepts everything the
 * language accepts (it is more lenient: `a = 1 b = 2` on one line parses); the
 * compiler, not this grammar, reports E0001.
 *
 * Keywords are contextual: `step`, `train`, `model`, `for`, `in`, `at`, `rule`, …
 * are keywords only where a declaration or statement starts (tree-sitter's keyword
 * extraction through `word` gives that for free), so `prepare.train`,
 * `-> (train: Dataset)` and `for = 5m` parse as names.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

const PREC = {
  if: 1,
  or: 2,
  and: 3,
  equality: 4,
  comparison: 5,
  range: 6,
  additive: 7,
  multiplicative: 8,
  unary: 9,
  call: 10,
  member: 11,
};

const commaSep1 = (rule) => seq(rule, repeat(seq(',', rule)), optional(','));
const commaSep = (rule) => optional(commaSep1(rule));

module.exports = grammar({
  name: 'kfl',

  word: ($) => $.identifier,

  extras: ($) => [/\s/, $.line_comment, $.block_comment, $.doc_comment],

  supertypes: ($) => [$._declaration, $._expression],

  rules: {
    source_file: ($) => repeat(seq($._declaration, optional(','))),

    _declaration: ($) =>
      choice(
        $.import_declaration,
        $.project_declaration,
        $.param_declaration,
        $.secret_declaration,
        $.volume_declaration,
        $.dataset_declaration,
        $.notebook_declaration,
        $.component_declaration,
        $.step_declaration,
        $.train_declaration,
        $.tune_declaration,
        $.model_declaration,
        $.serve_declaration,
        $.monitor_declaration,
        $.for_declaration,
      ),

    // ------------------------------------------------------------ comments

    // `///` followed by something other than `/`; `////…` is an ordinary comment
    doc_comment: (_) => token(/\/\/\/([^\/\n][^\n]*)?/),
    line_comment: (_) => token(/\/\/([^\/\n][^\n]*)?|\/\/\/\/[^\n]*/),
    block_comment: (_) => token(seq('/*', /[^*]*\*+([^/*][^*]*\*+)*/, '/')),

    // ------------------------------------------------------------ declarations

    // import "lib/common.kfl" as common | import std.data
    import_declaration: ($) =>
      seq(
        'import',
        field('path', choice($.string, $.raw_string, $.module_path)),
        optional(seq('as', field('alias', $.identifier))),
      ),
    module_path: ($) => seq($.identifier, repeat(seq('.', $.identifier))),

    project_declaration: ($) => seq('project', field('name', $.identifier), field('body', $.block)),

    param_declaration: ($) =>
      seq(
        'param',
        field('name', $.identifier),
        ':',
        field('type', $._type),
        optional(seq('=', field('default', $._expression))),
      ),

    secret_declaration: ($) => seq('secret', field('name', $.identifier), field('body', $.block)),
    volume_declaration: ($) => seq('volume', field('name', $.identifier), field('body', $.block)),
    dataset_declaration: ($) => seq('dataset', field('name', $.identifier), field('body', $.block)),
    notebook_declaration: ($) => seq('notebook', field('name', $.identifier), field('body', $.block)),

    component_declaration: ($) => stage($, 'component'),
    train_declaration: ($) => stage($, 'train'),
    step_declaration: ($) =>
      choice(
        stage($, 'step'),
        // step NAME = COMPONENT(IN = EXPR, …)
        seq('step', field('name', $.identifier), '=', field('value', $._expression)),
      ),

    parameters: ($) => seq('(', commaSep($.parameter), ')'),
    parameter: ($) =>
      seq(
        field('name', $.identifier),
        ':',
        field('type', $._type),
        optional(seq('=', field('default', $._expression))),
      ),
    outputs: ($) => seq('->', '(', commaSep($.parameter), ')'),

    tune_declaration: ($) => seq('tune', field('name', $.identifier), field('body', $.block)),
    model_declaration: ($) => seq('model', field('name', $.identifier), field('body', $.block)),
    serve_declaration: ($) => seq('serve', field('name', $.identifier), field('body', $.block)),
    monitor_declaration: ($) => seq('monitor', field('name', $.identifier), field('body', $.block)),

    // for NAME in EXPR { stages }
    for_declaration: ($) =>
      seq(
        'for',
        field('variable', $.identifier),
        'in',
        field('iterable', $._expression),
        field('body', $.for_body),
      ),
    for_body: ($) => seq('{', repeat(seq($._declaration, optional(','))), '}'),

    // ------------------------------------------------------------ bodies and objects

    // `{ entries }`: a declaration body, a `NAME { … }` property or an object literal.
    block: ($) => seq('{', repeat(seq($._entry, optional(','))), '}'),

    _entry: ($) => choice($.property, $.field_declaration, $.rule_statement, $.mount_statement),

    // key = value | key { … }
    property: ($) =>
      seq(field('key', $.key), choice(seq('=', field('value', $._expression)), field('value', $.block))),

    // metrics { NAME: TYPE, … }
    field_declaration: ($) => seq(field('name', $.key), ':', field('type', $._type)),

    // rule NAME { … }
    rule_statement: ($) => seq('rule', field('name', $.identifier), field('body', $.block)),

    // mount VOLUME at "/path"
    mount_statement: ($) =>
      seq('mount', field('volume', $._expression), 'at', field('path', $._expression)),

    // segments joined by `.`, each a name (may hold `/` and `-`) or a quoted string
    key: ($) => seq($._key_segment, repeat(seq('.', $._key_segment))),
    _key_segment: ($) => choice($.identifier, alias($._key_word, $.identifier), $.string),
    // a name that holds a `/` or `-` (`app.kubernetes.io/name`, `x-k8s`); plain names are identifiers
    _key_word: (_) => token(/[A-Za-z_][A-Za-z0-9_]*[\/-][A-Za-z0-9_\/-]*/),

    // ------------------------------------------------------------ types

    _type: ($) => choice(alias($.identifier, $.type_identifier), $.generic_type),
    generic_type: ($) =>
      seq(
        field('name', alias($.identifier, $.type_identifier)),
        '[',
        commaSep1(field('argument', $._type)),
        ']',
      ),

    // ------------------------------------------------------------ expressions

    _expression: ($) =>
      choice(
        $.identifier,
        $.integer,
        $.float,
        $.unit_literal,
        $.boolean,
        $.string,
        $.raw_string,
        $.list,
        $.block,
        $.parenthesized_expression,
        $.member_expression,
        $.call_expression,
        $.unary_expression,
        $.binary_expression,
        $.range_expression,
        $.if_expression,
      ),

    parenthesized_expression: ($) => seq('(', $._expression, ')'),

    list: ($) => seq('[', commaSep($._expression), ']'),

    member_expression: ($) =>
      prec(PREC.member, seq(field('object', $._expression), '.', field('property', $.identifier))),

    call_expression: ($) =>
      prec(PREC.call, seq(field('function', $._expression), field('arguments', $.arguments))),
    arguments: ($) => seq('(', commaSep(choice($.named_argument, $._expression)), ')'),
    named_argument: ($) => seq(field('name', $.identifier), '=', field('value', $._expression)),

    unary_expression: ($) =>
      prec(PREC.unary, seq(field('operator', choice('!', '-')), field('operand', $._expression))),

    binary_expression: ($) => {
      const table = [
        [PREC.or, '||'],
        [PREC.and, '&&'],
        [PREC.equality, choice('==', '!=')],
        [PREC.comparison, choice('<', '<=', '>', '>=')],
        [PREC.additive, choice('+', '-')],
        [PREC.multiplicative, choice('*', '/')],
      ];
      return choice(
        ...table.map(([p, op]) =>
          prec.left(
            /** @type {number} */ (p),
            seq(field('left', $._expression), field('operator', op), field('right', $._expression)),
          ),
        ),
      );
    },

    range_expression: ($) =>
      prec.left(PREC.range, seq(field('start', $._expression), '..', field('end', $._expression))),

    if_expression: ($) =>
      prec.right(
        PREC.if,
        seq(
          'if',
          field('condition', $._expression),
          'then',
          field('consequence', $._expression),
          'else',
          field('alternative', $._expression),
        ),
      ),

    // ------------------------------------------------------------ literals

    identifier: (_) => /[A-Za-z_][A-Za-z0-9_]*/,

    boolean: (_) => choice('true', 'false'),

    integer: (_) => /\d+/,
    float: (_) => /\d+\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+/,

    // 512Mi 10Gi 500m 30s 250ms 20% 1.5Gi 2E: the number and its unit, no space between
    unit_literal: ($) => seq(field('value', choice($.integer, $.float)), field('unit', $.unit)),
    unit: (_) => token.immediate(prec(3, /[A-Za-z%]+/)),

    string: ($) =>
      seq('"', repeat(choice($.string_content, $.escape_sequence, $.interpolation)), token.immediate('"')),
    string_content: (_) => token.immediate(prec(3, /([^"\\$\n]|\$[^{"\\\n])+|\$/)),
    escape_sequence: (_) => token.immediate(prec(3, /\\[nt"\\$]/)),
    interpolation: ($) => seq(token.immediate(prec(4, '${')), field('expression', $._expression), '}'),

    raw_string: (_) => token(seq('r"', /[^"\n]*/, '"')),
  },
});

/**
 * `KIND NAME(IN: TYPE = DEFAULT, …) -> (OUT: TYPE, …) { BODY }`, signature optional.
 * @param {GrammarSymbols<string>} $
 * @param {string} kind
 */
function stage($, kind) {
  return seq(
    kind,
    field('name', $.identifier),
    optional(field('parameters', $.parameters)),
    optional(field('outputs', $.outputs)),
    field('body', $.block),
  );
}
