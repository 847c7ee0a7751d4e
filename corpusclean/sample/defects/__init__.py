"""The planted defects: one module per kind of page a cleaning recipe should remove or repair.

==================  ===========================================================================
module              ``truth`` labels it builds
==================  ===========================================================================
``duplicates``      ``exact_dup``, ``near_dup``: copies of earlier clean articles
``mojibake``        ``mojibake``: clean articles decoded with the wrong codec (repaired, kept)
``non_english``     ``non_english``: everyday prose in 16 other languages
``boilerplate``     ``boilerplate``: navigation, cookie/JavaScript notices, footers
``link_list``       ``link_list``: lists of link titles
``keyword_spam``    ``keyword_spam``: keyword stuffing
``short``           ``short``: 1-10 word pages
==================  ===========================================================================

Every builder draws from the one text generator of the sample it is given, so the order in which
:func:`corpusclean.sample.records.generate_annotated` calls them is part of the sample's content.
"""
