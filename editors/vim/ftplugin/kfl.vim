" Vim filetype plugin for KFL
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

setlocal commentstring=//\ %s
setlocal comments=s1:/*,mb:*,ex:*/,:///,://
setlocal formatoptions-=t formatoptions+=croql
setlocal expandtab shiftwidth=2 softtabstop=2 tabstop=8
setlocal iskeyword=@,48-57,_
setlocal suffixesadd=.kfl
setlocal includeexpr=substitute(v:fname,'^std\\.','stdlib/','')

" matchit: `{`/`}` and `[`/`]` already pair with %.

let b:undo_ftplugin = 'setlocal commentstring< comments< formatoptions< expandtab< shiftwidth<'
      \ . ' softtabstop< tabstop< iskeyword< suffixesadd< includeexpr<'
