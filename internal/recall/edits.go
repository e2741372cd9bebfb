package recall

// IsolatedEdits are product texts unlike anything in either catalog (the
// seed CSV's look-alike marketing phrases, the generator's categories): an
// edit to one of them puts a single point far from its neighbours, the case
// an HNSW graph handles worst.
var IsolatedEdits = []struct{ Name, Description string }{
	{"Zebra teapot", "A zebra-striped porcelain teapot that whistles a tune when the water boils."},
	{"Volcano lamp", "A lava lamp shaped like an erupting volcano, glowing orange at night."},
	{"Penguin umbrella", "A child's umbrella with a penguin beak that squeaks in the rain."},
	{"Moon cheese", "Aged goat cheese wrapped in ash, shaped like a crescent moon."},
	{"Origami crane kit", "Washi paper and instructions for folding a thousand paper cranes."},
	{"Harp strings", "A full set of nylon and gut strings for a forty-seven string concert harp."},
	{"Beekeeper veil", "A mesh veil and hat that keeps honeybees away from a beekeeper's face."},
	{"Sourdough starter", "A living wild-yeast sourdough culture, dried, with feeding notes."},
	{"Telescope mount", "An equatorial mount that tracks stars across the night sky."},
	{"Goldfish castle", "A ceramic castle for goldfish bowls with arches to swim through."},
	{"Knitting needles", "Bamboo circular knitting needles for warm wool sweaters and scarves."},
	{"Canoe paddle", "A carved cedar canoe paddle for quiet mornings on the lake."},
	{"Dinosaur fossil", "A cast replica of a velociraptor claw fossil on a walnut stand."},
	{"Chess clock", "A wooden analog chess clock with two faces and a flag that drops."},
	{"Snow globe", "A glass snow globe of a lighthouse in a winter storm."},
	{"Pickle jar", "Crunchy dill pickles brined with garlic in a stoneware crock."},
	{"Parrot perch", "A rope swing and perch for a talkative African grey parrot."},
	{"Bagpipes", "Highland bagpipes with a tartan bag and three drones."},
	{"Cactus soil", "Gritty, fast-draining soil mix for cacti and succulents in pots."},
	{"Ice skates", "Figure skates with leather boots and blades sharpened for spins."},
	{"Maple syrup", "Dark amber maple syrup tapped from sugar maples in early spring."},
	{"Lighthouse puzzle", "A thousand-piece jigsaw puzzle of a red lighthouse at sunset."},
	{"Horse saddle", "A western leather saddle with a horn and hand-tooled flowers."},
	{"Tuba mouthpiece", "A silver-plated mouthpiece for a concert tuba, deep cup."},
	{"Lobster trap", "A wire lobster trap with a mesh bait bag and buoy rope."},
	{"Fairy wings", "Glittering costume fairy wings with elastic straps for children."},
	{"Kimchi crock", "A fermentation crock for napa cabbage kimchi with chili and garlic."},
	{"Compass", "A brass pocket compass with a lid and a needle that points north."},
	{"Hammock", "A woven cotton hammock to hang between two palm trees."},
	{"Typewriter ribbon", "A black and red ink ribbon for manual typewriters."},
}
