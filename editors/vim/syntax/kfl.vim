" Vim syntax file
" Language:    KFL (declarative ML lifecycles on Kubeflow)
" Filenames:   *.kfl
"
" Keywords are contextual in KFL: only true/false/if/then/else are reserved.
" Declaration keywords (project param secret volume dataset notebook component
" step train tune model serve monitor, import/as, for/in, rule, mount/at) are
" matched only where a declaration or statement starts, so `prepare.train`,
" `-> (train: Dataset)` and `for = 5m` stay plain names.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
syn sync minlines=50

" ------------------------------------------------------------------ expressions
syn match kflIdentifier /\<\h\w*\>/ contains=NONE
syn match kflDelimiter /[,:.]/
syn match kflOperator /->\|\.\.\|&&\|||\|==\|!=\|<=\|>=\|[<>!+\-*\/=]/
syn match kflBracket /[{}()[\]]/

" calls: user components, then the built-in objective/algorithm/distribution/autoscale calls
syn match kflCall /\<\h\w*\ze\s*(/
syn match kflBuiltinCall /\<\%(maximize\|minimize\|random\|grid\|tpe\|bayesian\|cmaes\|hyperband\|sobol\|median\|uniform\|loguniform\|normal\|lognormal\|quniform\|randint\|choice\|concurrency\|rps\|cpu\|memory\)\ze\s*(/

" enum values a property fixes (framework, access, runtime, protocol, then, procs_per_node)
syn match kflEnum /\<\%(torch\|deepspeed\|jax\|tensorflow\|mpi\|mlx\|xgboost\|custom\|read_write_once_pod\|read_write_once\|read_only_many\|read_write_many\|sklearn\|lightgbm\|pytorch\|onnx\|triton\|huggingface\|v1\|v2\|alert\|retrain\|auto\)\>\%(\s*\%([.(:]\|=[^=]\)\)\@!/

" names in scope: serve built-ins and monitor metrics
syn match kflBuiltinVar /\<\%(model_dir\|port\|error_rate\|latency_p50\|latency_p95\|latency_p99\|requests_per_second\)\>\%(\s*\%([(:]\|=[^=]\)\)\@!/

" types (after `:`), incl. list[T]
syn match kflType /\%([:[]\s*\)\@<=\<\%(int\|float\|bool\|string\|duration\|quantity\|cpu\|percent\|Dataset\|Model\|Artifact\|object\|list\|range\)\>/

" reserved words
syn keyword kflBoolean true false
syn match kflConditional /\<\%(if\|then\|else\)\>\%(\s*=[^=]\)\@!/

" numbers: 42 0.5 1e-3 and unit suffixes 512Mi 10Gi 500m 30s 250ms 20% 2E
syn match kflNumber /\<\d\+\%(\.\d\+\)\=\%([eE][+-]\=\d\+\)\=/ nextgroup=kflUnit,kflBadUnit
syn match kflBadUnit /[A-Za-z%][A-Za-z0-9_%]*/ contained
syn match kflUnit /\%(Ki\|Mi\|Gi\|Ti\|Pi\|Ei\|ms\|[kMGTPEmshd%]\)\%(\w\|%\)\@!/ contained

" strings: escapes and ${…} interpolation (may hold strings); raw strings r"…"
syn region kflString matchgroup=kflStringDelim start=/"/ skip=/\\\\\|\\"/ end=/"\|$/ oneline contains=kflEscape,kflBadEscape,kflInterpolation
syn match kflBadEscape /\\./ contained
syn match kflEscape /\\[nt"\\$]/ contained
syn region kflInterpolation matchgroup=kflInterpDelim start=/\${/ end=/}/ contained oneline contains=kflString,kflRawString,kflNumber,kflOperator,kflDelimiter,kflConditional,kflBoolean,kflCall,kflBuiltinCall,kflBuiltinVar,kflIdentifier
syn region kflRawString matchgroup=kflStringDelim start=/\<r"/ end=/"\|$/ oneline

" ------------------------------------------------------------------ entries
" `key = …` / `key { … }` (keys: dotted, segments may hold / - or be quoted)
syn match kflKey /\%(\%(^\|[{,(]\)\s*\)\@<=\%(\h[A-Za-z0-9_/-]*\|"[^"]*"\)\%(\s*\.\s*\%(\h[A-Za-z0-9_/-]*\|"[^"]*"\)\)*\ze\s*\%(=[^=]\|{\)/
" `name: TYPE` (signature inputs/outputs, metrics fields)
syn match kflField /\%(\%(^\|[{,(]\)\s*\)\@<=\%(\h\w*\|"[^"]*"\)\ze\s*:/

" ------------------------------------------------------------------ declarations
syn match kflDeclaration /^\s*\zs\<\%(project\|param\|secret\|volume\|dataset\|notebook\|model\|serve\|monitor\)\>\ze\s\+\h/ nextgroup=kflDeclName skipwhite
syn match kflStageDeclaration /^\s*\zs\<\%(component\|step\|train\|tune\)\>\ze\s\+\h/ nextgroup=kflStageName skipwhite
syn match kflDeclName /\h\w*/ contained
syn match kflStageName /\h\w*/ contained

syn match kflImport /^\s*\zs\<import\>/ nextgroup=kflString,kflRawString,kflModulePath skipwhite
syn match kflModulePath /\h\w*\%(\.\h\w*\)*/ contained nextgroup=kflImportAs skipwhite
syn match kflImportAs /\<as\>/ contained
syn match kflImportAs /\%(^\s*import\s.*\)\@<=\<as\>\ze\s\+\h/

syn match kflRepeat /^\s*\zs\<for\>\ze\s\+\h\w*\s\+in\>/
syn match kflRepeat /\%(^\s*for\s\+\h\w*\s\+\)\@<=\<in\>/

syn match kflStatement /\%(\%(^\|[{,]\)\s*\)\@<=\<rule\>\ze\s\+\h\w*\s*{/ nextgroup=kflRuleName skipwhite
syn match kflRuleName /\h\w*/ contained
syn match kflStatement /\%(\%(^\|[{,]\)\s*\)\@<=\<mount\>\ze\s\+\h/
syn match kflStatement /\%(\<mount\s\+\h\w*\s\+\)\@<=\<at\>/

" ------------------------------------------------------------------ comments
syn keyword kflTodo TODO FIXME XXX NOTE contained
syn match kflComment "//.*$" contains=kflTodo,@Spell
syn match kflDocComment "///\%([^/].*\)\=$" contains=kflTodo,@Spell
syn region kflBlockComment start="/\*" end="\*/" contains=kflTodo,@Spell

" ------------------------------------------------------------------ links
hi def link kflDeclaration      Keyword
hi def link kflStageDeclaration Keyword
hi def link kflImport           Include
hi def link kflImportAs         Include
hi def link kflModulePath       Identifier
hi def link kflRepeat           Repeat
hi def link kflStatement        Statement
hi def link kflConditional      Conditional
hi def link kflBoolean          Boolean
hi def link kflDeclName         Type
hi def link kflStageName        Function
hi def link kflRuleName         Label
hi def link kflKey              Identifier
hi def link kflField            Identifier
hi def link kflType             Type
hi def link kflNumber           Number
hi def link kflUnit             Special
hi def link kflBadUnit          Error
hi def link kflString           String
hi def link kflRawString        String
hi def link kflStringDelim      String
hi def link kflEscape           SpecialChar
hi def link kflBadEscape        Error
hi def link kflInterpDelim      Delimiter
hi def link kflEnum             Constant
hi def link kflBuiltinVar       Special
hi def link kflBuiltinCall      Function
hi def link kflCall             Function
hi def link kflOperator         Operator
hi def link kflDelimiter        Delimiter
hi def link kflBracket          Delimiter
hi def link kflComment          Comment
hi def link kflDocComment       SpecialComment
hi def link kflBlockComment     Comment
hi def link kflTodo             Todo

let b:current_syntax = 'kfl'

let &cpo = s:cpo_save
unlet s:cpo_save
