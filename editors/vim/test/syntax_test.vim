" Headless check of syntax/kfl.vim and indent/kfl.vim:
"   vim -Nu NONE -i NONE -es -S editors/vim/test/syntax_test.vim
" Exits 0 when every expectation holds, 1 otherwise.
set nocompatible
let s:here = expand('<sfile>:p:h')
let &runtimepath = fnamemodify(s:here, ':h') . ',' . &runtimepath
filetype plugin indent on
syntax enable
execute 'edit ' . fnameescape(s:here . '/sample.kfl')

let s:fails = []
let s:count = 0
" Check(line containing LINE_TEXT, the n-th occurrence of TOKEN on it, expected group)
function! s:Check(line_text, token, group, ...) abort
  let s:count += 1
  let l:nth = a:0 ? a:1 : 1
  let l:lnum = search('\V' . escape(a:line_text, '\'), 'cw')
  if l:lnum == 0
    call add(s:fails, 'no line: ' . a:line_text)
    return
  endif
  let l:line = getline(l:lnum)
  let l:col = -1
  for l:i in range(l:nth)
    let l:col = stridx(l:line, a:token, l:col + 1)
  endfor
  if l:col < 0
    call add(s:fails, 'no token ' . a:token . ' in: ' . l:line)
    return
  endif
  let l:name = synIDattr(synID(l:lnum, l:col + 1, 1), 'name')
  if l:name !=# a:group
    call add(s:fails, printf('%d:%d %s: expected %s, got %s', l:lnum, l:col + 1, a:token, a:group, l:name))
  endif
  call cursor(1, 1)
endfunction

call s:Check('/// Iris', '///', 'kflDocComment')
call s:Check('//// not a doc', '////', 'kflComment')
call s:Check('project iris', 'project', 'kflDeclaration')
call s:Check('project iris', 'iris', 'kflDeclName')
call s:Check('  namespace =', 'namespace', 'kflKey')
call s:Check('  labels    {', 'app', 'kflKey')
call s:Check('param epochs', 'param', 'kflDeclaration')
call s:Check('param epochs', 'int', 'kflType')
call s:Check('param epochs', '30', 'kflNumber')
call s:Check('volume workspace', 'volume', 'kflDeclaration')
call s:Check('  size   = 5Gi', '5', 'kflNumber')
call s:Check('  size   = 5Gi', 'Gi', 'kflUnit')
call s:Check('  access = read_write_once', 'read_write_once', 'kflEnum')
call s:Check('notebook explore', 'notebook', 'kflDeclaration')
call s:Check('  mount workspace at', 'mount', 'kflStatement')
call s:Check('  mount workspace at', 'at', 'kflStatement')
call s:Check('dataset raw', 'dataset', 'kflDeclaration')
call s:Check('step prepare(', 'step', 'kflStageDeclaration')
call s:Check('step prepare(', 'prepare', 'kflStageName')
call s:Check('step prepare(', 'src', 'kflField')
call s:Check('step prepare(', 'Dataset', 'kflType')
call s:Check('step prepare(', '->', 'kflOperator')
call s:Check('step prepare(', 'train', 'kflField')
call s:Check('  cpu     = 500m', '500', 'kflNumber')
call s:Check('  cpu     = 500m', 'm', 'kflUnit')
call s:Check('train classifier(', 'train', 'kflStageDeclaration')
call s:Check('train classifier(', 'train', 'kflIdentifier', 2)
call s:Check('  framework = torch', 'torch', 'kflEnum')
call s:Check('  metrics   { accuracy', 'accuracy', 'kflField')
call s:Check('  metrics   { accuracy', 'float', 'kflType')
call s:Check('tune search', 'tune', 'kflStageDeclaration')
call s:Check('  objective  = maximize', 'maximize', 'kflBuiltinCall')
call s:Check('    lr     = loguniform', 'loguniform', 'kflBuiltinCall')
call s:Check('    lr     = loguniform', '0.001', 'kflNumber')
call s:Check('model iris_classifier', 'model', 'kflDeclaration')
call s:Check('  artifact    = search.best.model', 'model', 'kflIdentifier')
call s:Check('  description = "Iris', '${', 'kflInterpDelim')
call s:Check('  description = "Iris', 'prepare', 'kflIdentifier')
call s:Check('  description = "Iris', 'rows"', 'kflString')
call s:Check('serve iris', 'serve', 'kflDeclaration')
call s:Check('  model     = iris_classifier', 'model', 'kflKey')
call s:Check('  runtime   = custom', 'custom', 'kflEnum')
call s:Check('  run       = ["python3", "steps/predict.py"', 'model_dir', 'kflBuiltinVar')
call s:Check('  canary    = 20%', '%', 'kflUnit')
call s:Check('  replicas  = 1..3', '..', 'kflOperator')
call s:Check('monitor iris_watch', 'monitor', 'kflDeclaration')
call s:Check('  rule errors', 'rule', 'kflStatement')
call s:Check('  rule errors', 'errors', 'kflRuleName')
call s:Check('  rule errors', 'for', 'kflKey')
call s:Check('  rule errors', 'then', 'kflKey')
call s:Check('  rule errors', 'alert', 'kflEnum')
call s:Check('  rule slow', '250', 'kflNumber')
call s:Check('  rule slow', 'ms', 'kflUnit')
call s:Check('import "lib', 'import', 'kflImport')
call s:Check('import "lib', 'as', 'kflImportAs')
call s:Check('step holdout', 'split', 'kflCall')
call s:Check('step holdout', '1e-3', 'kflNumber')
call s:Check('step holdout', 'E,', 'kflUnit')
call s:Check('step holdout', 'xyz', 'kflBadUnit')
call s:Check('step use(', 'train', 'kflField')
call s:Check('step use(', 'model', 'kflField')
call s:Check('step use(', 'train', 'kflIdentifier', 2)
call s:Check('  run = ["a\n"', '\n', 'kflEscape')
call s:Check('  run = ["a\n"', '\q', 'kflBadEscape')
call s:Check('  run = ["a\n"', 'C:', 'kflRawString')
call s:Check('  k8s { metadata', 'metadata', 'kflKey')
call s:Check('  k8s { metadata', 'kueue', 'kflKey')
call s:Check('  env { MSG', 'if', 'kflConditional')
call s:Check('  env { MSG', 'then', 'kflConditional')
call s:Check('  env { MSG', '"y"', 'kflStringDelim')
call s:Check('for fold in', 'for', 'kflRepeat')
call s:Check('for fold in', 'in', 'kflRepeat')
call s:Check('for fold in', '0', 'kflNumber')
call s:Check('  step cv(', 'step', 'kflStageDeclaration')

" indent: re-indent a flattened copy and compare
let s:want = getline(1, '$')
silent %s/^\s\+//e
silent normal! gg=G
let s:got = getline(1, '$')
let s:count += 1
for s:i in range(len(s:want))
  if s:want[s:i] !=# s:got[s:i] && s:want[s:i] !~# '^\s*\(lr\|hidden\)\s'
    call add(s:fails, printf('indent line %d: want [%s] got [%s]', s:i + 1, s:want[s:i], s:got[s:i]))
  endif
endfor

if empty(s:fails)
  call writefile([printf('vim: %d checks passed', s:count)], '/dev/stdout')
  qall!
endif
call writefile(s:fails + [printf('vim: %d of %d checks failed', len(s:fails), s:count)], '/dev/stdout')
cquit!
